// "updated 4 s ago": how old the figures on the page are. The poll stamps each success;
// a ticker rewrites the text every second, and a failed poll says why without blanking
// what is shown.
import { formatAgo } from './format.ts';

export class Freshness {
  private updatedAt: number | null = null;
  private problem: string | null = null;

  constructor(
    private readonly element: HTMLElement,
    private readonly now: () => number = Date.now,
  ) {}

  updated(): void {
    this.updatedAt = this.now();
    this.problem = null;
    this.render();
  }

  failed(problem: string): void {
    this.problem = problem;
    this.render();
  }

  render(): void {
    const age =
      this.updatedAt === null ? 'not updated yet' : `updated ${formatAgo(this.updatedAt, this.now())}`;
    const text = this.problem ? `${age}; cannot reach the relay: ${this.problem}` : age;
    if (this.element.textContent !== text) this.element.textContent = text;
    this.element.dataset.verdict = this.problem ? 'bad' : 'none';
  }
}
