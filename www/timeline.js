// Draws the session timeline as SVG: one lane per concern, time flowing left to right, "now"
// fixed near the right edge so the current token's remaining life stays visible.
//
// The model (filled by app.js from the manager's events and the network tap):
//   states:    [{t, state}]                          state changes
//   tokens:    [{n, receivedAt, expiresAt, refreshAt, endedAt, endReason}]
//   refreshes: [{start, end, status, outcome: 'pending'|'ok'|'fail'|'out', retryAt}]
//   calls:     [{t, label, status, attempts}]
//   marks:     [{t, kind: 'fault'|'expired'|'out'|'login'|'tab', label}]

const LANES = [
  { key: 'state', label: 'State' },
  { key: 'tokens', label: 'Tokens' },
  { key: 'refresh', label: 'Refresh' },
  { key: 'api', label: 'API' },
];
const LANE_H = 34;
const TOP = 8;
const AXIS_H = 22;

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const fmtTime = (t) => new Date(t).toLocaleTimeString([], { hour12: false });

export class Timeline {
  constructor(svg, model) {
    this.svg = svg;
    this.model = model;
    this.width = 0;
    new ResizeObserver(() => this.draw()).observe(svg);
  }

  /** The visible time window: the recent past and the current token's remaining life. */
  window(now) {
    const current = this.model.tokens.at(-1);
    const lifetime = current ? Math.max(current.expiresAt - current.receivedAt, 1000) : 30_000;
    const future = Math.min(Math.max(lifetime * 1.1, 3_000), 70_000);
    const past = Math.min(Math.max(lifetime * 3, 20_000), 5 * 60_000);
    return { from: now - past, to: now + future };
  }

  draw(now = Date.now()) {
    const width = Math.max(Math.round(this.svg.getBoundingClientRect().width), 280);
    const height = TOP + LANES.length * LANE_H + AXIS_H;
    this.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    this.svg.setAttribute('height', String(height));
    const labelW = width < 500 ? 58 : 76;
    const { from, to } = this.window(now);
    const x = (t) => labelW + ((t - from) / (to - from)) * (width - labelW - 6);
    const clampX = (t) => x(Math.min(Math.max(t, from), to));
    const laneY = (key) => TOP + LANES.findIndex((l) => l.key === key) * LANE_H;
    const parts = [];
    const m = this.model;

    // Lanes and labels.
    for (const lane of LANES) {
      const y = laneY(lane.key);
      parts.push(`<rect class="tl-lane" x="${labelW}" y="${y}" width="${width - labelW - 6}" height="${LANE_H - 4}"/>`);
      parts.push(`<text class="tl-label" x="4" y="${y + LANE_H / 2 + 2}">${lane.label}</text>`);
    }

    // Time axis: ticks relative to now.
    const span = to - from;
    const steps = [1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000];
    const pxPerMs = (width - labelW - 6) / span;
    const step = steps.find((s) => s * pxPerMs >= 64) ?? 300_000;
    const axisY = TOP + LANES.length * LANE_H;
    for (let t = Math.ceil((from - now) / step) * step; now + t <= to; t += step) {
      const tx = x(now + t);
      parts.push(`<line class="tl-grid" x1="${tx}" x2="${tx}" y1="${TOP}" y2="${axisY}"/>`);
      const label = t === 0 ? 'now' : `${t > 0 ? '+' : '−'}${Math.abs(t) / 1000} s`;
      parts.push(`<text class="tl-tick" x="${tx}" y="${axisY + 14}" text-anchor="middle">${label}</text>`);
    }

    // State lane: coloured segments.
    {
      const y = laneY('state') + 4;
      m.states.forEach((s, i) => {
        const end = m.states[i + 1]?.t ?? now;
        if (end < from) return;
        const x1 = clampX(s.t);
        const x2 = clampX(end);
        if (x2 - x1 < 0.5) return;
        parts.push(`<rect class="tl-state ${s.state}" x="${x1}" y="${y}" width="${x2 - x1}" height="${LANE_H - 12}"><title>${esc(s.state)} from ${fmtTime(s.t)}</title></rect>`);
        if (x2 - x1 > 70) parts.push(`<text class="tl-in" x="${x1 + 4}" y="${y + 15}">${esc(s.state)}</text>`);
      });
    }

    // Token lane: each token's life; alternating sub-rows so an overlap after a refresh shows.
    {
      const y0 = laneY('tokens') + 2;
      const h = (LANE_H - 8) / 2;
      for (const tok of m.tokens) {
        if (tok.expiresAt < from) continue;
        const y = y0 + (tok.n % 2 === 0 ? h : 0);
        const liveEnd = Math.min(tok.endedAt ?? Infinity, tok.expiresAt, Math.max(now, tok.receivedAt));
        const x1 = clampX(tok.receivedAt);
        const xLive = clampX(liveEnd);
        const xExp = clampX(tok.expiresAt);
        const xLead = tok.refreshAt ? clampX(Math.max(tok.refreshAt, tok.receivedAt)) : null;
        const title = `<title>Token #${tok.n}: received ${fmtTime(tok.receivedAt)}, expires ${fmtTime(tok.expiresAt)}${tok.endReason ? `, ${esc(tok.endReason)} ${fmtTime(tok.endedAt)}` : ''}</title>`;
        parts.push(`<g class="tl-token" data-n="${tok.n}">${title}`);
        parts.push(`<rect class="tl-token-ghost" x="${x1}" y="${y}" width="${Math.max(xExp - x1, 1)}" height="${h - 1}"/>`);
        if (!tok.endedAt && xLead !== null && xLead < xExp) {
          parts.push(`<rect class="tl-token-lead" x="${xLead}" y="${y}" width="${xExp - xLead}" height="${h - 1}"/>`);
        }
        parts.push(`<rect class="tl-token-live" x="${x1}" y="${y}" width="${Math.max(xLive - x1, 1)}" height="${h - 1}"/>`);
        if (xExp - x1 > 26) parts.push(`<text class="tl-in small" x="${x1 + 3}" y="${y + h - 4}">#${tok.n}</text>`);
        parts.push('</g>');
      }
    }

    // Refresh lane: each refresh call, its outcome, and the retry it scheduled.
    {
      const y = laneY('refresh') + 4;
      const h = LANE_H - 12;
      for (const r of m.refreshes) {
        const end = r.end ?? now;
        if (Math.max(end, r.retryAt ?? 0) < from) continue;
        const x1 = clampX(r.start);
        const x2 = Math.max(clampX(end), x1 + 6);
        const what = r.outcome === 'pending' ? 'in flight' : `${r.outcome}${r.status ? ` (${r.status})` : ''}`;
        parts.push(`<g class="tl-refresh ${r.outcome}"><title>Refresh at ${fmtTime(r.start)}: ${esc(what)}</title>`);
        parts.push(`<rect x="${x1}" y="${y}" width="${x2 - x1}" height="${h}" rx="2"/>`);
        if (r.outcome === 'ok') parts.push(`<path class="tl-glyph" d="M${x1 - 1} ${y + h / 2} l3 4 l6 -9"/>`);
        if (r.outcome === 'fail' || r.outcome === 'out') parts.push(`<path class="tl-glyph" d="M${x1 - 2} ${y + 4} l7 ${h - 8} M${x1 + 5} ${y + 4} l-7 ${h - 8}"/>`);
        parts.push('</g>');
        if (r.retryAt) {
          const xr = clampX(r.retryAt);
          parts.push(`<g class="tl-retry"><title>Retry scheduled for ${fmtTime(r.retryAt)}</title><line x1="${x2}" x2="${xr}" y1="${y + h / 2}" y2="${y + h / 2}"/><circle cx="${xr}" cy="${y + h / 2}" r="4"/></g>`);
        }
      }
      for (const mark of m.marks) {
        if (mark.t < from) continue;
        const mx = clampX(mark.t);
        if (mark.kind === 'fault') {
          parts.push(`<g class="tl-mark fault"><title>${esc(mark.label)} at ${fmtTime(mark.t)}</title><path d="M${mx} ${y - 2} l5 9 l-10 0 z"/></g>`);
        } else if (mark.kind === 'tab') {
          parts.push(`<g class="tl-mark tab"><title>${esc(mark.label)} at ${fmtTime(mark.t)}</title><path d="M${mx} ${y - 3} l6 6 l-6 6 l-6 -6 z"/></g>`);
        } else if (mark.kind === 'expired' || mark.kind === 'out') {
          const top = laneY('state');
          parts.push(`<g class="tl-mark ${mark.kind}"><title>${esc(mark.label)} at ${fmtTime(mark.t)}</title><line x1="${mx}" x2="${mx}" y1="${top + 2}" y2="${axisY - 2}"/></g>`);
        }
      }
    }

    // API lane: a tick per call, coloured by status; a ring when it was retried.
    {
      const y = laneY('api') + 4;
      const h = LANE_H - 12;
      for (const c of m.calls) {
        if (c.t < from) continue;
        const cx = clampX(c.t);
        const cls = c.status === null ? 'pending' : c.status >= 200 && c.status < 300 ? 'ok' : c.status === 0 ? 'fail' : c.status >= 500 ? 'fail' : 'warn';
        parts.push(`<g class="tl-call ${cls}${c.attempts > 1 ? ' retried' : ''}"><title>${esc(c.label)} → ${esc(c.status ?? c.error ?? '…')}${c.attempts > 1 ? ` after ${c.attempts} attempts` : ''}</title>`);
        parts.push(`<rect x="${cx - 2}" y="${y}" width="4" height="${h}"/>`);
        if (c.attempts > 1) parts.push(`<circle cx="${cx}" cy="${y + h / 2}" r="7"/>`);
        parts.push('</g>');
      }
    }

    // Now.
    const xn = x(now);
    parts.push(`<line class="tl-now" x1="${xn}" x2="${xn}" y1="${TOP - 4}" y2="${axisY}"/>`);

    this.svg.innerHTML = `<title id="timeline-title">Access token lifetimes, refreshes, failures and retries</title><desc id="timeline-desc">${esc(this.describe(now))}</desc>${parts.join('')}`;
    this.svg.dataset.tokens = String(m.tokens.length);
    this.svg.dataset.refreshOk = String(m.refreshes.filter((r) => r.outcome === 'ok').length);
    this.svg.dataset.refreshFailed = String(m.refreshes.filter((r) => r.outcome === 'fail').length);
    this.svg.dataset.retries = String(m.refreshes.filter((r) => r.retryAt).length);
    this.svg.dataset.fromOtherTabs = String(m.marks.filter((k) => k.kind === 'tab').length);
  }

  /** A text summary for assistive technology (the event list has the details). */
  describe(now) {
    const m = this.model;
    const ok = m.refreshes.filter((r) => r.outcome === 'ok').length;
    const failed = m.refreshes.filter((r) => r.outcome === 'fail').length;
    const current = m.tokens.at(-1);
    const tokenText = current && !current.endedAt
      ? `Token #${current.n} expires in ${Math.max(0, Math.round((current.expiresAt - now) / 1000))} s.`
      : 'No current token.';
    return `${m.tokens.length} tokens received, ${ok} refreshes succeeded, ${failed} failed. ${tokenText}`;
  }
}

