// A video player for micro-gestures: frame stepping, 0.1x-2x speed, a loop over the clip or a
// marked sub-range, and zoom into a dragged region. Keys: FGPlayer#handleKey.
"use strict";

class FGPlayer {
  static RATES = [0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];

  constructor(root) {
    const $ = (id) => root.querySelector("#" + id);
    this.video = $("video");
    this.viewport = $("viewport");
    this.scrub = $("scrub");
    this.readout = $("time-readout");
    this.speed = $("speed");
    this.loopButton = $("btn-loop");
    this.loopRange = $("loop-range");
    this.clearRangeButton = $("btn-clear-range");
    this.zoomResetButton = $("btn-zoom-reset");
    this.zoomRect = $("zoom-rect");
    this.zoomBadge = $("zoom-badge");
    this.message = $("viewport-message");
    this.fps = 25;
    this.segment = [0, 0];   // the clip: [start, end) in seconds of the video file
    this.range = null;       // a marked sub-range [in, out), or null
    this.pendingIn = null;
    this.loop = true;
    this.zoom = { s: 1, x: 0, y: 0 };
    this._tick = this._tick.bind(this);

    const click = (id, fn) => $(id).addEventListener("click", (e) => {
      fn();
      if (e.detail > 0) e.currentTarget.blur();  // a mouse click: keys go back to the page
    });
    click("btn-play", () => this.togglePlay());
    click("btn-frame-back", () => this.step(-1));
    click("btn-frame-fwd", () => this.step(1));
    click("btn-loop", () => this.setLoop(!this.loop));
    click("btn-mark-in", () => this.markIn());
    click("btn-mark-out", () => this.markOut());
    click("btn-clear-range", () => this.clearRange());
    click("btn-zoom-reset", () => this.resetZoom());
    this.speed.addEventListener("change", () => { this.setRate(Number(this.speed.value)); this.speed.blur(); });
    this.scrub.addEventListener("input", () => { this.pause(); this.seek(Number(this.scrub.value)); });
    this.scrub.addEventListener("change", () => this.scrub.blur());
    for (const ev of ["timeupdate", "seeked", "loadeddata", "play", "pause"]) {
      this.video.addEventListener(ev, () => this._render());
    }
    this.video.addEventListener("play", () => requestAnimationFrame(this._tick));
    this.video.addEventListener("ended", () => { if (this.loop) { this.seek(this._bounds()[0]); this.play(); } });
    this.video.addEventListener("error", () => {
      if (this.message.hidden) this._showMessage("This clip's video cannot be played.");
    });
    this._bindZoom();
  }

  // -- loading --------------------------------------------------------------------------------
  async load(clip) {
    this.pause();
    this.range = this.pendingIn = null;
    this.resetZoom();
    this._showMessage(null);
    let info = null;
    try {
      info = (await FG.api("GET", `${clip.media_url}/info`)).data;
    } catch (e) {
      this._showMessage(`This clip's video is not available (${e.message}).`);
    }
    this.fps = (info && info.fps) || 25;
    const duration = (info && info.duration) || 0;
    const start = clip.start_frame != null ? clip.start_frame / this.fps : 0;
    const end = clip.end_frame != null ? clip.end_frame / this.fps : duration;  // end exclusive
    this.segment = [start, end || duration];
    const ready = new Promise((resolve) => {
      const done = () => { this.video.removeEventListener("loadedmetadata", done); resolve(); };
      this.video.addEventListener("loadedmetadata", done);
      this.video.addEventListener("error", done, { once: true });
    });
    this.video.src = clip.media_url;
    this.video.playbackRate = Number(this.speed.value);
    await ready;
    if (!this.segment[1] && Number.isFinite(this.video.duration)) this.segment[1] = this.video.duration;
    this.scrub.min = this.segment[0];
    this.scrub.max = this.segment[1];
    this.seek(this.segment[0] + 0.5 / this.fps);
    this._render();
  }

  // -- playback -------------------------------------------------------------------------------
  play() { if (this.video.src) this.video.play().catch(() => {}); }
  pause() { this.video.pause(); }
  togglePlay() { this.video.paused ? this.play() : this.pause(); }
  seek(t) {
    const [lo, hi] = this.segment;
    this.video.currentTime = Math.min(Math.max(t, lo), Math.max(lo, hi - 0.25 / this.fps));
  }
  frameAt(t) { return Math.floor(t * this.fps + 1e-3); }
  get frame() { return this.frameAt(this.video.currentTime); }
  // Pause and move n frames, landing mid-frame so rounding never shows the neighbour.
  step(n) {
    this.pause();
    const first = this.frameAt(this.segment[0] + 1e-6);
    const last = Math.max(first, Math.ceil(this.segment[1] * this.fps - 1e-3) - 1);
    const target = Math.min(Math.max(this.frame + n, first), last);
    this.video.currentTime = (target + 0.5) / this.fps;
    this._render();
  }
  setRate(rate) {
    const r = Math.min(2, Math.max(0.1, rate));
    this.video.playbackRate = r;
    this.speed.value = String(FGPlayer.RATES.includes(r) ? r : 1);
    this._render();
  }
  faster(dir) {
    const rates = FGPlayer.RATES;
    const i = rates.findIndex((r) => r >= this.video.playbackRate - 1e-9);
    const at = i < 0 ? rates.length - 1 : i;
    this.setRate(rates[Math.min(rates.length - 1, Math.max(0, at + dir))]);
    FG.toast(`Speed ${this.video.playbackRate}×`, "info", 900);
  }

  // -- loop -----------------------------------------------------------------------------------
  _bounds() { return this.range || this.segment; }
  setLoop(on) { this.loop = on; this.loopButton.setAttribute("aria-pressed", String(on)); this._render(); }
  markIn() {
    const t = this.video.currentTime;
    const out = this.range ? this.range[1] : this.segment[1];
    this.range = t < out - 0.5 / this.fps ? [t, out] : null;
    this.pendingIn = t;
    this.setLoop(true);
  }
  markOut() {
    const t = this.video.currentTime;
    const start = this.range ? this.range[0] : (this.pendingIn ?? this.segment[0]);
    this.range = t > start + 0.5 / this.fps ? [start, t] : null;
    this.setLoop(true);
  }
  clearRange() { this.range = this.pendingIn = null; this._render(); }
  _tick() {
    if (this.video.paused) return;
    const [lo, hi] = this._bounds();
    const t = this.video.currentTime;
    if (t >= hi || t < lo - 0.5 / this.fps) {
      if (this.loop) this.video.currentTime = lo;
      else if (t >= this.segment[1]) { this.pause(); this.video.currentTime = this.segment[1] - 0.5 / this.fps; }
    }
    this._render();
    requestAnimationFrame(this._tick);
  }

  // -- zoom: drag a rectangle, wheel at the cursor, 0 or double-click resets -------------------
  _bindZoom() {
    let start = null;
    const point = (e) => {
      const r = this.viewport.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    this.viewport.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      start = point(e);
      this.viewport.setPointerCapture(e.pointerId);
    });
    this.viewport.addEventListener("pointermove", (e) => {
      if (!start) return;
      const p = point(e);
      Object.assign(this.zoomRect.style, {
        left: Math.min(p.x, start.x) + "px", top: Math.min(p.y, start.y) + "px",
        width: Math.abs(p.x - start.x) + "px", height: Math.abs(p.y - start.y) + "px",
      });
      this.zoomRect.hidden = Math.abs(p.x - start.x) < 6 && Math.abs(p.y - start.y) < 6;
    });
    this.viewport.addEventListener("pointerup", (e) => {
      if (!start) return;
      const p = point(e);
      const box = { x: Math.min(p.x, start.x), y: Math.min(p.y, start.y), w: Math.abs(p.x - start.x), h: Math.abs(p.y - start.y) };
      start = null;
      this.zoomRect.hidden = true;
      if (box.w >= 8 && box.h >= 8) this.zoomTo(box);
      else this.togglePlay();
    });
    this.viewport.addEventListener("dblclick", () => this.resetZoom());
    this.viewport.addEventListener("wheel", (e) => {
      e.preventDefault();
      const p = point(e);
      this._setZoom(this.zoom.s * (e.deltaY < 0 ? 1.25 : 0.8), p);
    }, { passive: false });
  }
  // Make the viewport box `box` (in viewport pixels) fill the view.
  zoomTo(box) {
    const W = this.viewport.clientWidth, H = this.viewport.clientHeight;
    const { s, x, y } = this.zoom;
    const factor = Math.min(W / box.w, H / box.h);
    const s2 = Math.min(8, s * factor);
    const cx = (box.x + box.w / 2 - x) / s, cy = (box.y + box.h / 2 - y) / s;  // content coords
    this._apply(s2, W / 2 - cx * s2, H / 2 - cy * s2);
  }
  _setZoom(s2, at) {
    const { s, x, y } = this.zoom;
    s2 = Math.min(8, Math.max(1, s2));
    this._apply(s2, at.x - (at.x - x) * (s2 / s), at.y - (at.y - y) * (s2 / s));
  }
  _apply(s, x, y) {
    const W = this.viewport.clientWidth, H = this.viewport.clientHeight;
    x = Math.min(0, Math.max(W - W * s, x));   // never show past the frame's edges
    y = Math.min(0, Math.max(H - H * s, y));
    this.zoom = { s, x, y };
    this.video.style.transform = s === 1 ? "" : `translate(${x}px, ${y}px) scale(${s})`;
    this.zoomBadge.hidden = s === 1;
    this.zoomBadge.textContent = `${s.toFixed(1)}×`;
    this.zoomResetButton.disabled = s === 1;
  }
  resetZoom() { this._apply(1, 0, 0); }

  // -- keys: true when the key was the player's -------------------------------------------------
  handleKey(e) {
    switch (e.key) {
      case " ": this.togglePlay(); return true;
      case "ArrowLeft": this.step(e.shiftKey ? -10 : -1); return true;
      case "ArrowRight": this.step(e.shiftKey ? 10 : 1); return true;
      case "-": case "_": this.faster(-1); return true;
      case "=": case "+": this.faster(1); return true;
      case "[": this.markIn(); return true;
      case "]": this.markOut(); return true;
      case "\\": this.setLoop(!this.loop); return true;
      case "0": this.resetZoom(); return true;
      default: return false;
    }
  }

  // -- display --------------------------------------------------------------------------------
  _showMessage(text) {
    this.message.hidden = !text;
    this.message.textContent = text || "";
  }
  _render() {
    const v = this.video, [lo, hi] = this.segment;
    const first = this.frameAt(lo + 1e-6);
    const frames = Math.max(1, Math.round((hi - lo) * this.fps));
    const frame = Math.min(frames, Math.max(1, this.frame - first + 1));
    this.readout.textContent = `${((frame - 1) / this.fps).toFixed(2)} s · frame ${frame} / ${frames} · ${v.playbackRate}×`;
    this.scrub.value = v.currentTime;
    document.getElementById("btn-play")?.classList.toggle("playing", !v.paused);
    document.getElementById("btn-play")?.setAttribute("aria-label", v.paused ? "Play (Space)" : "Pause (Space)");
    const span = hi - lo || 1;
    this.loopRange.hidden = !this.range;
    if (this.range) {
      this.loopRange.style.left = (100 * (this.range[0] - lo) / span) + "%";
      this.loopRange.style.width = (100 * (this.range[1] - this.range[0]) / span) + "%";
    }
    this.loopRange.classList.toggle("off", !this.loop);
    this.clearRangeButton.hidden = !this.range;
  }
}
