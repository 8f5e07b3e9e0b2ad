// The volunteer page's elements by id (web/index.html), and how its figures are written.

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export const setText = (id: string, text: string) => {
  $(id).textContent = text;
};

export const bytes = (n: number) =>
  n < 1e3 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(2)} MB`;

/** Shows `message` as the status, marked as an error. */
export function fail(message: string): void {
  setText('status', message);
  $('status').classList.add('error');
}
