// A minimal loss-per-step line chart on a canvas; the volunteer page of a later issue moves
// to uPlot with speed and bytes as well.

export function drawLossChart(canvas: HTMLCanvasElement, losses: readonly number[]): void {
  const g = canvas.getContext('2d');
  if (!g) return;
  const { width, height } = canvas;
  const pad = 32;
  g.clearRect(0, 0, width, height);
  g.strokeStyle = '#ccc';
  g.strokeRect(pad, pad / 2, width - pad * 1.5, height - pad * 1.5);
  if (losses.length < 2) return;
  const max = Math.max(...losses);
  const min = Math.min(0, ...losses);
  const x = (i: number) => pad + (i / (losses.length - 1)) * (width - pad * 1.5);
  const y = (v: number) => pad / 2 + (1 - (v - min) / (max - min || 1)) * (height - pad * 1.5);
  g.fillStyle = '#666';
  g.font = '11px system-ui';
  g.fillText(max.toFixed(2), 2, y(max) + 4);
  g.fillText(min.toFixed(2), 2, y(min));
  g.strokeStyle = '#2f6f4f';
  g.lineWidth = 2;
  g.beginPath();
  for (const [i, v] of losses.entries()) {
    if (i === 0) g.moveTo(x(i), y(v));
    else g.lineTo(x(i), y(v));
  }
  g.stroke();
}
