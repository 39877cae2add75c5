// Runs in the page (page.evaluate): draws the SVG under `selector` onto a canvas and measures it, so a
// test can tell a rendered picture from an empty one.
export async function inkedSvg(selector: string): Promise<{ width: number; height: number; inkShare: number }> {
  const svg = document.querySelector(`${selector} svg`) as SVGSVGElement | null;
  if (!svg) return { width: 0, height: 0, inkShare: 0 };
  const box = svg.getBoundingClientRect();
  const image = new Image();
  image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(svg))}`;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(box.width);
  canvas.height = Math.ceil(box.height);
  const context = canvas.getContext('2d') as CanvasRenderingContext2D;
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 0; i < pixels.length; i += 4) if (pixels[i] < 230 || pixels[i + 1] < 230 || pixels[i + 2] < 230) ink++;
  return { width: box.width, height: box.height, inkShare: ink / (pixels.length / 4) };
}
