// The histogram of matches over time, drawn as SVG: each bar is a bucket. Clicking a bar (or
// pressing Enter on it) zooms to its bucket; dragging across bars zooms to the dragged span.

import { formatCount, formatTime, h, svg } from "./dom.js";

const WIDTH = 1000;
const HEIGHT = 140;
const AXIS = 18;

function niceMax(value) {
  if (value <= 5) return 5;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

function axisLabel(date, spanMs) {
  const options = spanMs > 2 * 86400e3
    ? { month: "short", day: "numeric" }
    : { hour: "2-digit", minute: "2-digit", hour12: false };
  return new Intl.DateTimeFormat("en-GB", options).format(date);
}

export function renderHistogram(result, onZoom) {
  const from = new Date(result.from).getTime();
  const to = new Date(result.to).getTime();
  const span = Math.max(to - from, 1);
  const bucketMs = result.bucket_seconds * 1000;
  const x = (time) => ((time - from) / span) * WIDTH;
  const peak = niceMax(Math.max(1, ...result.histogram.map((bucket) => bucket.count)));
  const plotHeight = HEIGHT - AXIS;
  const bars = result.histogram.map((bucket) => {
    const start = new Date(bucket.start).getTime();
    const left = Math.max(0, x(start));
    const width = Math.max(1, Math.min(WIDTH, x(start + bucketMs)) - left - 1);
    const height = bucket.count ? Math.max(2, (bucket.count / peak) * (plotHeight - 6)) : 0;
    const label = `${formatCount(bucket.count)} matches from ${formatTime(start)}`;
    const zoom = () => onZoom(new Date(Math.max(start, from)), new Date(Math.min(start + bucketMs, to)));
    return svg("g", {
      class: "bar", tabindex: 0, role: "button", "aria-label": `${label}; zoom in`, "data-start": bucket.start,
      onkeydown: (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); zoom(); } },
    },
    svg("rect", { class: "hit", x: left, y: 0, width: width + 1, height: plotHeight }),
    svg("rect", { class: "fill", x: left, y: plotHeight - height, width, height }),
    svg("title", {}, label));
  });
  const ticks = [];
  for (let index = 0; index <= 4; index += 1) {
    const time = from + (span * index) / 4;
    const anchor = index === 0 ? "start" : index === 4 ? "end" : "middle";
    ticks.push(svg("text", { x: x(time), y: HEIGHT - 4, "text-anchor": anchor, class: "tick" }, axisLabel(new Date(time), span)));
  }
  const selection = svg("rect", { class: "selection", x: 0, y: 0, width: 0, height: plotHeight, visibility: "hidden" });
  const chart = svg("svg", {
    class: "histogram-chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none",
    role: "img", "aria-label": `Histogram: ${formatCount(result.count)} matches from ${formatTime(result.from)} to ${formatTime(result.to)}, ${result.histogram.length} buckets of ${result.bucket_seconds} s`,
  },
  svg("line", { class: "baseline", x1: 0, x2: WIDTH, y1: plotHeight + 0.5, y2: plotHeight + 0.5 }),
  bars, selection, ticks);
  const starts = result.histogram.map((bucket) => new Date(bucket.start).getTime());
  attachDrag(chart, selection, { from, span, bucketMs, to, starts }, onZoom);
  return h("figure", { class: "histogram" },
    chart,
    h("figcaption", { class: "muted" }, `Peak ${formatCount(Math.max(0, ...result.histogram.map((bucket) => bucket.count)))} per ${result.bucket_seconds >= 60 ? `${result.bucket_seconds / 60} min` : `${result.bucket_seconds} s`} · click a bar or drag across bars to zoom`));
}

function attachDrag(chart, selection, scale, onZoom) {
  let startX = null;
  const toUnit = (event) => {
    const box = chart.getBoundingClientRect();
    return Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
  };
  chart.addEventListener("pointerdown", (event) => {
    startX = toUnit(event);
    chart.setPointerCapture(event.pointerId);
  });
  chart.addEventListener("pointermove", (event) => {
    if (startX === null) return;
    const current = toUnit(event);
    selection.setAttribute("visibility", "visible");
    selection.setAttribute("x", Math.min(startX, current) * WIDTH);
    selection.setAttribute("width", Math.abs(current - startX) * WIDTH);
  });
  chart.addEventListener("pointerup", (event) => {
    if (startX === null) return;
    const endX = toUnit(event);
    const [low, high] = [Math.min(startX, endX), Math.max(startX, endX)];
    startX = null;
    selection.setAttribute("visibility", "hidden");
    let start = scale.from + low * scale.span;
    let end = scale.from + high * scale.span;
    if (high - low < 0.01) {
      // a click: the bucket under the pointer
      const time = start;
      start = scale.starts.find((bucketStart) => bucketStart <= time && time < bucketStart + scale.bucketMs)
        ?? Math.floor(time / scale.bucketMs) * scale.bucketMs;
      end = start + scale.bucketMs;
    }
    start = Math.max(scale.from, Math.floor(start / 1000) * 1000);
    end = Math.min(scale.to, Math.ceil(end / 1000) * 1000);
    if (end > start) onZoom(new Date(start), new Date(end));
  });
}
