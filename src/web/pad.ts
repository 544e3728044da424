/**
 * The drawing pad: a square canvas that records pointer drags (mouse, touch,
 * pen) as vector strokes and paints them as round, thick marker lines.
 *
 * The strokes are the data; the pixels are only a picture of them. Points are
 * kept in the canvas's CSS pixels (0 … side), so they do not depend on the
 * screen's devicePixelRatio; the backing store is side × dpr device pixels so
 * lines stay sharp on high-DPI screens. When the canvas changes size (a phone
 * rotates) the stored points are scaled with it.
 *
 * Only the primary pointer draws: a second finger on a touch screen is
 * ignored rather than joined into the stroke. The canvas has
 * `touch-action: none` (in style.css) and captures the pointer, so a drag
 * neither scrolls nor zooms the page and keeps drawing when it leaves the pad.
 *
 * @module
 */

import type { Point, Stroke } from "../image/strokes.ts";

export type { Point, Stroke };

/** The pen's width as a fraction of the pad's side (24 px on a 280 px pad). */
export const PEN_WIDTH_FRACTION = 24 / 280;
/** Points closer than this many CSS pixels to the previous one are dropped. */
const MIN_STEP = 0.75;

/** What the pad tells its owner. */
export interface PadEvents {
  /** A stroke ended (pen up); `strokes` holds it as the last element. */
  onStrokeEnd?: (strokes: readonly Stroke[]) => void;
  /** The strokes changed in any way (start, undo, clear). */
  onChange?: (strokes: readonly Stroke[]) => void;
}

/** A canvas that turns pointer drags into strokes. */
export class DrawingPad {
  readonly canvas: HTMLCanvasElement;
  #ctx: CanvasRenderingContext2D;
  #strokes: Stroke[] = [];
  #current: Stroke | null = null;
  #pointerId: number | null = null;
  #side = 0;
  #dpr = 1;
  #frame = 0;
  #events: PadEvents;

  constructor(canvas: HTMLCanvasElement, events: PadEvents = {}) {
    this.canvas = canvas;
    const ctx = canvas.getContext("2d");
    if (!ctx) {
      throw new TypeError("Cannot draw as the canvas has no 2D context");
    }
    this.#ctx = ctx;
    this.#events = events;
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    canvas.addEventListener("pointerup", (e) => this.#up(e));
    canvas.addEventListener("pointercancel", (e) => this.#up(e));
    canvas.addEventListener("lostpointercapture", (e) => this.#up(e));
    // A long press on a touch screen would otherwise open a context menu.
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.#watchPixelRatio();
    this.resize();
  }

  /** The finished strokes (the one being drawn is not included). */
  get strokes(): readonly Stroke[] {
    return this.#strokes;
  }

  /** The pad's side in CSS pixels. */
  get side(): number {
    return this.#side;
  }

  /** True while a stroke is being drawn. */
  get drawing(): boolean {
    return this.#current !== null;
  }

  /** Removes the last stroke; returns false when there was none. */
  undo(): boolean {
    if (this.#strokes.length === 0) return false;
    this.#strokes.pop();
    this.#changed();
    return true;
  }

  /** Removes every stroke. */
  clear(): void {
    this.#strokes = [];
    this.#current = null;
    this.#pointerId = null;
    this.#changed();
  }

  /** Matches the backing store to the canvas's size and the screen's pixel ratio. */
  resize(): void {
    const side = this.canvas.clientWidth;
    const dpr = globalThis.devicePixelRatio || 1;
    if (side === 0) return;
    if (this.#side > 0 && side !== this.#side) {
      const k = side / this.#side;
      for (const s of this.#strokes) for (const p of s) (p[0] *= k, p[1] *= k);
      if (this.#current) {
        for (const p of this.#current) (p[0] *= k, p[1] *= k);
      }
    }
    this.#side = side;
    this.#dpr = dpr;
    const px = Math.round(side * dpr);
    if (this.canvas.width !== px) this.canvas.width = px;
    if (this.canvas.height !== px) this.canvas.height = px;
    this.#paint();
  }

  /** Repaints on the next frame (e.g. after the colour scheme changed). */
  repaint(): void {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#paint();
    });
  }

  #watchPixelRatio(): void {
    // Fires when the window moves to a screen with another pixel ratio or
    // the user zooms; re-arms itself for the new ratio.
    const query = matchMedia(
      `(resolution: ${globalThis.devicePixelRatio}dppx)`,
    );
    query.addEventListener("change", () => {
      this.resize();
      this.#watchPixelRatio();
    }, { once: true });
  }

  #point(e: PointerEvent): Point {
    const r = this.canvas.getBoundingClientRect();
    // The canvas may be scaled by CSS; map client pixels to its CSS box.
    const k = r.width > 0 ? this.#side / r.width : 1;
    return [(e.clientX - r.left) * k, (e.clientY - r.top) * k];
  }

  #down(e: PointerEvent): void {
    if (!e.isPrimary || this.#current) return;
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.#pointerId = e.pointerId;
    this.#current = [this.#point(e)];
    this.#events.onChange?.(this.#strokes);
    this.repaint();
  }

  #move(e: PointerEvent): void {
    if (e.pointerId !== this.#pointerId || !this.#current) return;
    e.preventDefault();
    const events = e.getCoalescedEvents?.() ?? [];
    for (const c of events.length ? events : [e]) this.#add(this.#point(c));
    this.repaint();
  }

  #add(p: Point): void {
    const s = this.#current!;
    const last = s[s.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= MIN_STEP) s.push(p);
  }

  #up(e: PointerEvent): void {
    if (e.pointerId !== this.#pointerId || !this.#current) return;
    if (e.type === "pointerup") this.#add(this.#point(e));
    const stroke = this.#current;
    this.#current = null;
    this.#pointerId = null;
    if (this.canvas.hasPointerCapture(e.pointerId)) {
      this.canvas.releasePointerCapture(e.pointerId);
    }
    this.#strokes.push(stroke);
    this.#paint();
    this.#events.onStrokeEnd?.(this.#strokes);
  }

  #changed(): void {
    this.#paint();
    this.#events.onChange?.(this.#strokes);
  }

  #paint(): void {
    const ctx = this.#ctx;
    const style = getComputedStyle(this.canvas);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(this.#dpr, 0, 0, this.#dpr, 0, 0);
    ctx.strokeStyle = ctx.fillStyle = style.color;
    ctx.lineWidth = this.#side * PEN_WIDTH_FRACTION;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const s of this.#strokes) paintStroke(ctx, s);
    if (this.#current) paintStroke(ctx, this.#current);
  }
}

/**
 * Paints one stroke as a smooth line: quadratic curves through the midpoints
 * of successive points, which rounds off the corners a fast drag leaves.
 */
function paintStroke(ctx: CanvasRenderingContext2D, s: Stroke): void {
  if (s.length === 1) {
    ctx.beginPath();
    ctx.arc(s[0][0], s[0][1], ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(s[0][0], s[0][1]);
  for (let i = 1; i < s.length - 1; i++) {
    const mx = (s[i][0] + s[i + 1][0]) / 2;
    const my = (s[i][1] + s[i + 1][1]) / 2;
    ctx.quadraticCurveTo(s[i][0], s[i][1], mx, my);
  }
  const last = s[s.length - 1];
  ctx.lineTo(last[0], last[1]);
  ctx.stroke();
}
