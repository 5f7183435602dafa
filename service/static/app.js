/* ScanGuard operator console: live scan queue, viewer with the detector's boxes, and review.
 *
 * Plain browser JavaScript, no build step and nothing loaded from outside the service. The page talks
 * to the service's JSON API under /api/v1 with a bearer token kept in sessionStorage, and listens to
 * /api/v1/events (server-sent events) for new scans and reviews. Images are rendered by the service
 * (window/level, invert, pseudo-colour, edge enhancement) and the boxes are drawn here on a canvas
 * overlay so that zoom, pan and hover stay fluid on a full-size scan.
 */
"use strict";

(() => {
  const API = "/api/v1";
  const TOKEN_KEY = "scanguard.token";
  const QUEUE_LIMIT = 200;
  const IMAGE_DEBOUNCE_MS = 60;
  const RECONNECT_MS = 4000;
  const MIN_ZOOM = 0.05;
  const MAX_ZOOM = 16;
  /** Findings below this confidence are drawn dashed with only their number, and folded in the list. */
  const LOW_CONFIDENCE = 0.2;
  const BOX_COLOURS = ["#ff3b3b", "#ffd400", "#38d6ff", "#ff7ce5", "#8dff6b", "#ff9f40"];
  /** Sizes are less sure when the file stated no spacing: say so beside the image size. */
  const SPACING_NOTES = {
    estimated: " (spacing estimated from the person's height: sizes ±10 %)",
    assumed: " (no spacing in the file: 1 mm assumed, sizes unknown)",
  };
  /** What image.upright_turns (quarter turns that stood the person up) tells the officer. */
  const TURN_NOTES = {
    1: "; stored on its side, analysed upright",
    2: "; stored upside down, analysed upright",
    3: "; stored on its side, analysed upright",
  };
  /** Window/level presets in attenuation units (line integral -ln(I/I_air), air = 0). */
  const PRESETS = {
    auto: { window: null, level: null },
    full: { window: 10.0, level: 5.0 },
    body: { window: 6.0, level: 3.0 },
    dense: { window: 4.0, level: 6.0 },
    skin: { window: 1.5, level: 0.75 },
  };
  /** window/level null = automatic (the service windows on the body); the sliders then rest here. */
  const SLIDER_REST = { window: 6.0, level: 3.0 };
  const DEFAULT_RENDER = { window: null, level: null, invert: false, colour: false, enhance: false, boxes: true };
  const OUTCOME_TEXT = {
    item_found: "Item found on search",
    nothing_found: "Nothing found on search",
    confirmed: "Alarm confirmed",
    rejected: "Alarm rejected",
  };
  const VERDICT_TEXT = { confirmed: "Confirmed", rejected: "Rejected" };

  // ------------------------------------------------------------------ state
  const state = {
    token: null,
    scans: [], // newest first
    total: 0, // scans matching the filter on the service
    filter: "",
    selectedId: null,
    scan: null, // full ScanPublic of the selected scan
    privacy: false,
    render: { ...DEFAULT_RENDER },
    view: { scale: 1, tx: 0, ty: 0, fitted: true },
    hover: -1,
    events: null,
    reconnectTimer: null,
    hadError: false,
  };

  const $ = (id) => document.getElementById(id);
  const el = {};

  // ------------------------------------------------------------------ helpers
  /** Create an element: h("li", {class: "x", dataset: {id: 1}}, "text", child). */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const pct = (x) => (typeof x === "number" ? `${Math.round(x * 100)}%` : "–");

  function formatTime(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    const today = new Date();
    if (d.toDateString() === today.toDateString()) return time;
    return `${d.toLocaleDateString([], { day: "2-digit", month: "short" })} ${time}`;
  }

  /** Decision of a processed scan, else FAILED (detector error) or PENDING (not yet processed). */
  function decisionOf(scan) {
    if (scan && scan.result && scan.result.decision) return scan.result.decision;
    return scan && scan.status === "failed" ? "FAILED" : "PENDING";
  }

  function badge(decision) {
    return h("span", { class: `badge badge-${decision}` }, decision);
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** Call the JSON API; throws ApiError with the service's message on failure. */
  async function api(path, { method = "GET", body, signal, token } = {}) {
    const headers = { Authorization: `Bearer ${token || state.token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(API + path, {
        method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network", "The service cannot be reached. Check the network and try again.");
    }
    if (!res.ok) {
      let code = `http_${res.status}`;
      let message = `${res.status} ${res.statusText}`;
      try {
        const payload = await res.json();
        if (payload && payload.error) {
          code = payload.error.code || code;
          message = payload.error.message || message;
        } else if (payload && payload.detail) {
          message = typeof payload.detail === "string" ? payload.detail : JSON.stringify(payload.detail);
        }
      } catch (_) { /* body is not JSON */ }
      if (res.status === 401 && !token) signOut("Your session has expired or the token was revoked. Sign in again.");
      throw new ApiError(res.status, code, message);
    }
    if (res.status === 204) return null;
    return res.json();
  }

  // ------------------------------------------------------------------ login
  function showLogin(message) {
    closeEvents();
    el.consoleView.hidden = true;
    el.loginView.hidden = false;
    el.loginError.textContent = message || "";
    el.loginToken.value = "";
    el.loginToken.focus();
  }

  async function onLogin(event) {
    event.preventDefault();
    const token = el.loginToken.value.trim();
    if (!token) {
      el.loginError.textContent = "Enter your access token.";
      return;
    }
    const button = el.loginForm.querySelector("button");
    button.disabled = true;
    el.loginError.textContent = "";
    try {
      await api("/scans?limit=1", { token });
      sessionStorage.setItem(TOKEN_KEY, token);
      await startConsole(token);
    } catch (err) {
      el.loginError.textContent =
        err.status === 401 ? "This token was not accepted. Check it and try again."
          : err.status === 403 ? "This token's role cannot use the console. Ask an administrator for an operator token."
            : err.message;
    } finally {
      button.disabled = false;
    }
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.scans = [];
    state.total = 0;
    state.selectedId = null;
    state.scan = null;
    el.queueList.replaceChildren();
    clearViewer();
    showLogin(message);
  }

  async function startConsole(token) {
    state.token = token;
    el.loginView.hidden = true;
    el.consoleView.hidden = false;
    applyPrivacy();
    syncRenderControls();
    connectEvents();
    await loadQueue();
    if (!state.selectedId && state.scans.length) await selectScan(state.scans[0].id);
    el.queueList.focus();
  }

  // ------------------------------------------------------------------ queue
  /** Load the newest page of the queue, or (older=true) the next page of older scans. */
  async function loadQueue({ older = false } = {}) {
    const offset = older ? state.scans.filter(matchesFilter).length : 0;
    const params = new URLSearchParams({ limit: String(QUEUE_LIMIT), offset: String(offset) });
    if (state.filter) params.set("decision", state.filter);
    try {
      const page = await api(`/scans?${params}`);
      const data = page.data || [];
      if (older) {
        for (const scan of data) upsertScan(scan);
      } else {
        state.scans = sortScans(data);
      }
      state.total = Number(page.count) || 0;
      renderQueue();
    } catch (err) {
      if (err.status !== 401) announce(`Could not load the queue: ${err.message}`);
    }
  }

  const receivedMs = (scan) => {
    const ms = Date.parse(scan.received_at);
    return Number.isNaN(ms) ? 0 : ms;
  };
  const sortScans = (scans) => scans.slice().sort((a, b) => receivedMs(b) - receivedMs(a));

  const matchesFilter = (scan) => !state.filter || decisionOf(scan) === state.filter;

  function queueItem(scan) {
    const decision = decisionOf(scan);
    const score = scan.result ? scan.result.scan_score : null;
    const selected = scan.id === state.selectedId;
    const label = `${decision}, confidence ${pct(score)}, station ${scan.station_id || "unknown"}, ` +
      `${formatTime(scan.received_at)}${scan.review ? ", reviewed" : ""}`;
    return h("li", {
      id: `scan-${scan.id}`, class: "queue-item", role: "option", "aria-selected": selected ? "true" : "false",
      "aria-label": label, dataset: { id: scan.id, decision },
      onclick: () => selectScan(scan.id),
    },
    badge(decision),
    h("span", { class: "score", title: "Scan confidence" }, pct(score)),
    h("span", { class: "meta" },
      h("span", { class: "station" }, scan.station_id || "—"),
      scan.review ? h("span", { class: "badge badge-reviewed", title: OUTCOME_TEXT[scan.review.outcome] || "" },
        "Reviewed") : null,
      h("time", { datetime: scan.received_at }, formatTime(scan.received_at))));
  }

  function renderQueue() {
    const items = state.scans.filter(matchesFilter).map(queueItem);
    el.queueList.replaceChildren(...items);
    el.queueEmpty.hidden = items.length > 0;
    el.queueCount.textContent = state.total ? `(${state.total})` : "";
    el.queueMore.hidden = items.length >= state.total;
    if (state.selectedId) el.queueList.setAttribute("aria-activedescendant", `scan-${state.selectedId}`);
    else el.queueList.removeAttribute("aria-activedescendant");
  }

  function replaceQueueItem(scan) {
    const old = document.getElementById(`scan-${scan.id}`);
    if (old) old.replaceWith(queueItem(scan));
  }

  function upsertScan(scan) {
    const index = state.scans.findIndex((s) => s.id === scan.id);
    if (index >= 0) state.scans[index] = scan;
    else state.scans.unshift(scan);
    state.scans = sortScans(state.scans);
    return index < 0;
  }

  function setFilter(decision) {
    state.filter = decision;
    for (const button of el.filters) button.setAttribute("aria-pressed", String(button.dataset.decision === decision));
    loadQueue();
  }

  function moveSelection(step) {
    const visible = state.scans.filter(matchesFilter);
    if (!visible.length) return;
    let index = visible.findIndex((s) => s.id === state.selectedId);
    index = index < 0 ? 0 : Math.min(visible.length - 1, Math.max(0, index + step));
    selectScan(visible[index].id);
  }

  function announce(text) {
    el.announcer.textContent = "";
    window.setTimeout(() => { el.announcer.textContent = text; }, 50);
  }

  // ------------------------------------------------------------------ live events
  function setConn(kind, text) {
    el.conn.dataset.state = kind;
    el.conn.textContent = text;
  }

  function connectEvents() {
    closeEvents();
    if (!state.token) return;
    setConn("connecting", "Connecting…");
    const source = new EventSource(`${API}/events?token=${encodeURIComponent(state.token)}`);
    state.events = source;
    source.addEventListener("open", () => {
      setConn("live", "Live");
      if (state.hadError) {
        state.hadError = false;
        loadQueue(); // catch up on anything missed while disconnected
      }
    });
    source.addEventListener("error", () => {
      state.hadError = true;
      if (source.readyState === EventSource.CLOSED) {
        setConn("offline", "Offline – retrying");
        state.reconnectTimer = window.setTimeout(async () => {
          try {
            await api("/scans?limit=1"); // signs out when the token is no longer valid
            connectEvents();
          } catch (err) {
            if (err.status === 403) signOut("This token's role can no longer use the console. Sign in with an operator token.");
            else if (state.token) connectEvents();
          }
        }, RECONNECT_MS);
      } else {
        setConn("connecting", "Reconnecting…");
      }
    });
    source.addEventListener("scan", (event) => onScanEvent(parseEvent(event)));
    source.addEventListener("review", (event) => onReviewEvent(parseEvent(event)));
  }

  function closeEvents() {
    window.clearTimeout(state.reconnectTimer);
    if (state.events) state.events.close();
    state.events = null;
  }

  function parseEvent(event) {
    try {
      return JSON.parse(event.data);
    } catch (_) {
      return null;
    }
  }

  function onScanEvent(scan) {
    if (!scan || scan.id === undefined) return;
    const isNew = upsertScan(scan);
    const shown = state.scan;
    if (shown && shown.id === scan.id && (shown.status !== scan.status || !shown.result)) {
      // the scan on screen got its result: show it (a review in progress is not touched otherwise)
      state.scan = scan;
      renderDetails();
      renderFindings();
      renderReview();
      prepareStage();
      scheduleImage(0);
      requestDraw();
    }
    if (!matchesFilter(scan)) return;
    if (isNew) state.total += 1;
    renderQueue();
    if (isNew) {
      const item = document.getElementById(`scan-${scan.id}`);
      if (item) item.classList.add("fresh");
      announce(`New scan: ${decisionOf(scan)}, ${pct(scan.result && scan.result.scan_score)}, ` +
        `station ${scan.station_id || "unknown"}`);
      if (!state.selectedId) selectScan(scan.id);
    }
  }

  async function onReviewEvent(payload) {
    if (!payload) return;
    let scan = payload.result ? payload : null;
    const id = scan ? scan.id : (payload.scan_id ?? payload.id);
    if (id === undefined) return;
    if (!scan) {
      const known = state.scans.find((s) => s.id === id);
      if (known && payload.review !== undefined) scan = { ...known, review: payload.review };
      else {
        try { scan = await api(`/scans/${encodeURIComponent(id)}`); } catch (_) { return; }
      }
    }
    upsertScan(scan);
    replaceQueueItem(scan);
    if (state.selectedId === scan.id) {
      state.scan = scan;
      renderReview();
    }
  }

  // ------------------------------------------------------------------ selection and details
  async function selectScan(id) {
    const changed = id !== state.selectedId;
    state.selectedId = id;
    for (const node of el.queueList.querySelectorAll(".queue-item")) {
      node.setAttribute("aria-selected", String(node.dataset.id === String(id)));
    }
    el.queueList.setAttribute("aria-activedescendant", `scan-${id}`);
    const item = document.getElementById(`scan-${id}`);
    if (item) item.scrollIntoView({ block: "nearest" });
    if (!changed && state.scan) return;
    let scan = state.scans.find((s) => s.id === id) || null;
    try {
      scan = await api(`/scans/${encodeURIComponent(id)}`);
      upsertScan(scan);
    } catch (err) {
      if (!scan) {
        el.stageMessage.textContent = `Could not load the scan: ${err.message}`;
        return;
      }
    }
    if (state.selectedId !== id) return; // the officer moved on meanwhile
    state.scan = scan;
    state.hover = -1;
    if (changed) el.side.scrollTop = 0;
    renderDetails();
    renderFindings();
    renderReview();
    prepareStage();
    fitView();
    scheduleImage(0);
  }

  function clearViewer() {
    cancelImage();
    state.scan = null;
    el.scanImage.removeAttribute("src");
    if (imageUrl) URL.revokeObjectURL(imageUrl);
    imageUrl = null;
    delete el.stage.dataset.loaded;
    el.detailsBody.replaceChildren("No scan selected.");
    el.detailsBody.className = "muted";
    el.findingsList.replaceChildren();
    el.reviewSummary.hidden = true;
    el.reviewForm.reset();
    el.scanImage.hidden = true;
    el.bodyOutline.hidden = true;
    el.stageMessage.textContent = "Select a scan from the queue.";
    drawOverlay();
  }

  function renderDetails() {
    const scan = state.scan;
    const result = scan.result || {};
    const image = result.image || {};
    const model = result.model || {};
    const timings = result.timings || {};
    const total = ["decode_ms", "preprocess_ms", "infer_ms", "postprocess_ms"]
      .reduce((sum, key) => sum + (Number(timings[key]) || 0), 0);
    const rows = [
      ["Received", formatTime(scan.received_at)],
      ["Station", scan.station_id || "—"],
      ["Person", scan.person_ref || "—"],
      ["Reason", scan.reason || "—"],
      ["Source", scan.source || "—"],
      ["Image", image.cols ? `${image.cols} × ${image.rows} px` +
        (image.spacing_mm ? `, ${image.spacing_mm.map((v) => Number(v).toFixed(2)).join(" × ")} mm` : "") +
        (SPACING_NOTES[image.spacing_source] || "") + (TURN_NOTES[image.upright_turns] || "") : "—"],
      ["Model", model.name ? `${model.name} ${model.version || ""}` : "—"],
      ["Analysis", total ? `${Math.round(total)} ms` : "—"],
    ];
    if (scan.error) rows.push(["Error", scan.error]);
    el.detailsBody.className = "";
    el.detailsBody.replaceChildren(
      h("div", { class: "decision-line" },
        badge(decisionOf(scan)),
        h("span", { class: "big-score", title: "Scan confidence" }, pct(result.scan_score)),
        scan.review ? h("span", { class: "badge badge-reviewed" }, "Reviewed") : null),
      h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
  }

  const findingsOf = (scan) => (scan && scan.result && scan.result.findings) || [];

  function renderFindings() {
    const findings = findingsOf(state.scan);
    const verdicts = new Map(((state.scan.review && state.scan.review.findings) || [])
      .map((f) => [f.index, f.verdict]));
    if (!findings.length) {
      el.findingsList.replaceChildren(h("li", { class: "no-findings" }, "No findings."));
      return;
    }
    const items = findings.map((finding, index) => {
      const colour = BOX_COLOURS[index % BOX_COLOURS.length];
      const name = `verdict-${index}`;
      const verdict = verdicts.get(index);
      return h("li", {
        class: "finding", dataset: { index },
        onmouseenter: () => setHover(index), onmouseleave: () => setHover(-1),
      },
      h("div", { class: "finding-head" },
        h("span", { class: "swatch", style: `background:${colour}`, "aria-hidden": "true" }),
        h("span", { class: "label" }, `${index + 1}. ${finding.label}`),
        h("span", { class: "conf", title: "Confidence" }, pct(finding.confidence))),
      h("div", { class: "zone" }, `Zone: ${finding.zone || "—"}`),
      h("div", { class: "verdicts", role: "radiogroup", "aria-label": `Verdict for finding ${index + 1}` },
        h("label", {}, h("input", { type: "radio", name, value: "confirmed", checked: verdict === "confirmed" }),
          "Confirm"),
        h("label", {}, h("input", { type: "radio", name, value: "rejected", checked: verdict === "rejected" }),
          "Reject"),
        h("button", {
          type: "button", class: "goto", title: "Zoom to this finding",
          "aria-label": `Show finding ${index + 1} on the image`,
          onclick: () => zoomToFinding(index),
        }, "Show")));
    });
    const low = findings.map((f, index) => index).filter((index) => findings[index].confidence < LOW_CONFIDENCE);
    const shown = items.filter((_, index) => findings[index].confidence >= LOW_CONFIDENCE);
    if (!low.length) {
      el.findingsList.replaceChildren(...shown);
      return;
    }
    const open = low.some((index) => verdicts.has(index));
    el.findingsList.replaceChildren(...shown, h("li", { class: "low-findings" },
      h("details", { open },
        h("summary", {}, `${low.length} more below ${pct(LOW_CONFIDENCE)} confidence`),
        h("ol", { class: "findings-list" }, low.map((index) => items[index])))));
  }

  function renderReview() {
    const review = state.scan && state.scan.review;
    el.reviewError.textContent = "";
    if (!review) {
      el.reviewSummary.hidden = true;
      el.reviewForm.reset();
      el.reviewSubmit.textContent = "Save review";
      renderDetails();
      return;
    }
    const verdicts = (review.findings || []).map((f) =>
      `#${f.index + 1} ${VERDICT_TEXT[f.verdict] || f.verdict}`).join(", ");
    el.reviewSummary.replaceChildren(
      h("strong", {}, OUTCOME_TEXT[review.outcome] || review.outcome),
      h("div", { class: "muted" }, `by ${review.reviewer || "unknown"}, ${formatTime(review.reviewed_at)}`),
      verdicts ? h("div", {}, `Findings: ${verdicts}`) : null,
      review.note ? h("div", {}, `Note: ${review.note}`) : null);
    el.reviewSummary.hidden = false;
    for (const input of el.reviewForm.querySelectorAll("input[name=outcome]")) {
      input.checked = input.value === review.outcome;
    }
    el.reviewNote.value = review.note || "";
    el.reviewSubmit.textContent = "Update review";
    renderDetails();
    renderFindings();
  }

  async function onReviewSubmit(event) {
    event.preventDefault();
    if (!state.scan) return;
    const outcome = el.reviewForm.querySelector("input[name=outcome]:checked");
    if (!outcome) {
      el.reviewError.textContent = "Choose the search outcome before saving.";
      el.reviewForm.querySelector("input[name=outcome]").focus();
      return;
    }
    const findings = [];
    findingsOf(state.scan).forEach((_, index) => {
      const chosen = el.findingsList.querySelector(`input[name="verdict-${index}"]:checked`);
      if (chosen) findings.push({ index, verdict: chosen.value });
    });
    const body = { outcome: outcome.value, note: el.reviewNote.value.trim(), findings };
    const id = state.scan.id;
    el.reviewSubmit.disabled = true;
    el.reviewError.textContent = "";
    try {
      await api(`/scans/${encodeURIComponent(id)}/review`, { method: "POST", body });
      const scan = await api(`/scans/${encodeURIComponent(id)}`);
      upsertScan(scan);
      replaceQueueItem(scan);
      if (state.selectedId === id) {
        state.scan = scan;
        renderReview();
      }
      announce("Review saved.");
    } catch (err) {
      el.reviewError.textContent = `Review not saved: ${err.message}`;
    } finally {
      el.reviewSubmit.disabled = false;
    }
  }

  // ------------------------------------------------------------------ image rendering
  // One request at a time: settings changed while a rendering is on its way are requested as
  // soon as it lands, so dragging a slider updates the image continuously at the service's pace.
  let imageTimer = null;
  let imageRequest = null; // { controller, scanId } of the rendering on its way
  let imageAgain = false;
  let imageUrl = null;

  function scheduleImage(delay = IMAGE_DEBOUNCE_MS) {
    window.clearTimeout(imageTimer);
    imageTimer = window.setTimeout(loadImage, delay);
  }

  function cancelImage() {
    window.clearTimeout(imageTimer);
    if (imageRequest) imageRequest.controller.abort();
  }

  function imageParams() {
    const r = state.render;
    const params = new URLSearchParams();
    if (r.window !== null && r.level !== null) {
      params.set("window", r.window.toFixed(2));
      params.set("level", r.level.toFixed(2));
    }
    params.set("invert", r.invert ? "true" : "false");
    params.set("colormap", r.colour ? "density" : "gray");
    params.set("enhance", r.enhance ? "true" : "false");
    params.set("boxes", "false");
    return params;
  }

  async function loadImage() {
    const scan = state.scan;
    if (!scan || state.privacy) return;
    if (imageRequest) {
      if (imageRequest.scanId === scan.id) {
        imageAgain = true;
        return;
      }
      imageRequest.controller.abort();
    }
    const params = imageParams().toString();
    const key = `${scan.id}|${params}`;
    if (el.stage.dataset.loaded === key && !el.scanImage.hidden) return; // already on screen
    const request = { controller: new AbortController(), scanId: scan.id };
    imageRequest = request;
    imageAgain = false;
    el.imageBusy.hidden = false;
    try {
      const res = await fetch(`${API}/scans/${encodeURIComponent(scan.id)}/image.png?${params}`, {
        headers: { Authorization: `Bearer ${state.token}` }, signal: request.controller.signal,
      });
      if (res.status === 401) {
        signOut("Your session has expired or the token was revoked. Sign in again.");
        return;
      }
      if (!res.ok) {
        let message = `${res.status} ${res.statusText}`;
        try { message = (await res.json()).error.message; } catch (_) { /* not JSON */ }
        throw new Error(message);
      }
      const url = URL.createObjectURL(await res.blob());
      const next = new Image();
      next.src = url;
      await next.decode(); // the previous image stays on screen until this one is ready
      if (imageRequest !== request || !state.scan || state.scan.id !== scan.id || state.privacy) {
        URL.revokeObjectURL(url);
        return;
      }
      next.id = "scan-image";
      next.className = el.scanImage.className;
      next.alt = `Scan ${scan.id}`;
      next.draggable = false;
      sizeContent(next);
      el.scanImage.replaceWith(next);
      el.scanImage = next;
      if (imageUrl) URL.revokeObjectURL(imageUrl);
      imageUrl = url;
      el.stage.dataset.loaded = key;
      el.stageMessage.textContent = "";
    } catch (err) {
      if (err.name !== "AbortError" && imageRequest === request) {
        el.stageMessage.textContent = `Image not available: ${err.message}`;
      }
    } finally {
      if (imageRequest === request) {
        imageRequest = null;
        el.imageBusy.hidden = true;
        if (imageAgain) {
          imageAgain = false;
          scheduleImage(0);
        }
      }
    }
  }

  function imageSize() {
    const image = (state.scan && state.scan.result && state.scan.result.image) || {};
    return { cols: Number(image.cols) || 1, rows: Number(image.rows) || 1 };
  }

  function sizeContent(node) {
    const { cols, rows } = imageSize();
    node.style.width = `${cols}px`;
    node.style.height = `${rows}px`;
  }

  /** Show the image or the body outline for the selected scan, sized to the scan's pixel grid. */
  function prepareStage() {
    if (!state.scan) return;
    sizeContent(el.scanImage);
    sizeContent(el.bodyOutline);
    el.bodyOutline.hidden = !state.privacy;
    if (state.privacy) {
      el.scanImage.hidden = true;
      el.stageMessage.textContent = "";
    } else {
      const current = el.stage.dataset.loaded || "";
      const sameScan = current.split("|")[0] === String(state.scan.id);
      el.scanImage.hidden = !sameScan;
      el.stageMessage.textContent = sameScan ? "" : "Loading image…";
    }
  }

  // ------------------------------------------------------------------ zoom, pan and overlay
  let frame = 0;

  function requestDraw() {
    if (frame) return;
    frame = window.requestAnimationFrame(() => {
      frame = 0;
      const { scale, tx, ty } = state.view;
      el.stageContent.style.transform = `translate(${tx}px, ${ty}px) scale(${scale})`;
      el.scanImage.classList.toggle("pixelated", scale >= 2);
      el.zoomLevel.textContent = `${Math.round(scale * 100)}%`;
      drawOverlay();
    });
  }

  function fitView() {
    const { cols, rows } = imageSize();
    const w = el.stage.clientWidth;
    const hgt = el.stage.clientHeight;
    if (!w || !hgt) return;
    const scale = Math.min(w / cols, hgt / rows) * 0.96;
    state.view = { scale, tx: (w - cols * scale) / 2, ty: (hgt - rows * scale) / 2, fitted: true };
    requestDraw();
  }

  function zoomAt(factor, cx, cy) {
    const v = state.view;
    const scale = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, v.scale * factor));
    const k = scale / v.scale;
    state.view = { scale, tx: cx - (cx - v.tx) * k, ty: cy - (cy - v.ty) * k, fitted: false };
    requestDraw();
  }

  const zoomCentre = (factor) => zoomAt(factor, el.stage.clientWidth / 2, el.stage.clientHeight / 2);

  function zoomToFinding(index) {
    const finding = findingsOf(state.scan)[index];
    if (!finding) return;
    const [x, y, w, hgt] = finding.bbox_px;
    const sw = el.stage.clientWidth;
    const sh = el.stage.clientHeight;
    const scale = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Math.min(sw / (w * 4), sh / (hgt * 4))));
    state.view = {
      scale, tx: sw / 2 - (x + w / 2) * scale, ty: sh / 2 - (y + hgt / 2) * scale, fitted: false,
    };
    setHover(index);
    requestDraw();
  }

  function setHover(index) {
    if (state.hover === index) return;
    state.hover = index;
    for (const node of el.findingsList.querySelectorAll(".finding")) {
      node.classList.toggle("hover", Number(node.dataset.index) === index);
    }
    requestDraw();
  }

  function drawOverlay() {
    const canvas = el.overlay;
    const ratio = window.devicePixelRatio || 1;
    const w = el.stage.clientWidth;
    const hgt = el.stage.clientHeight;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(hgt * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(hgt * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    const findings = findingsOf(state.scan);
    canvas.dataset.boxes = String(state.render.boxes ? findings.length : 0);
    if (!state.render.boxes || !findings.length) return;
    const { scale, tx, ty } = state.view;
    ctx.font = "700 15px system-ui, sans-serif";
    ctx.textBaseline = "top";
    // least confident first, so the boxes that matter (and the hovered one) are drawn on top
    const order = findings.map((_, index) => index).sort((a, b) =>
      (a === state.hover) - (b === state.hover) || findings[a].confidence - findings[b].confidence);
    order.forEach((index) => {
      const finding = findings[index];
      const [x, y, bw, bh] = finding.bbox_px;
      const sx = tx + x * scale;
      const sy = ty + y * scale;
      const sw = Math.max(2, bw * scale);
      const sh = Math.max(2, bh * scale);
      const colour = BOX_COLOURS[index % BOX_COLOURS.length];
      const hovered = index === state.hover;
      const low = finding.confidence < LOW_CONFIDENCE;
      ctx.setLineDash(low && !hovered ? [6, 4] : []);
      ctx.lineWidth = hovered ? 4 : low ? 1.5 : 2.5;
      ctx.strokeStyle = "rgba(0,0,0,0.85)";
      ctx.strokeRect(sx - 1, sy - 1, sw + 2, sh + 2);
      ctx.strokeStyle = hovered ? "#ffffff" : colour;
      ctx.strokeRect(sx, sy, sw, sh);
      ctx.setLineDash([]);
      const text = low && !hovered ? `${index + 1}`
        : `${index + 1} ${finding.label} ${pct(finding.confidence)} · ${finding.zone || ""}`;
      const tw = ctx.measureText(text).width + 10;
      const ly = sy - 22 >= 0 ? sy - 22 : sy + sh + 2;
      ctx.fillStyle = "rgba(0,0,0,0.8)";
      ctx.fillRect(sx - 1, ly, tw, 21);
      ctx.fillStyle = hovered ? "#ffffff" : colour;
      ctx.fillText(text, sx + 4, ly + 3);
    });
  }

  function findingAt(clientX, clientY) {
    const rect = el.stage.getBoundingClientRect();
    const { scale, tx, ty } = state.view;
    const ix = (clientX - rect.left - tx) / scale;
    const iy = (clientY - rect.top - ty) / scale;
    let best = -1;
    let bestArea = Infinity;
    findingsOf(state.scan).forEach((finding, index) => {
      const [x, y, w, hgt] = finding.bbox_px;
      if (ix >= x && ix <= x + w && iy >= y && iy <= y + hgt && w * hgt < bestArea) {
        best = index;
        bestArea = w * hgt;
      }
    });
    return best;
  }

  function setupStage() {
    let drag = null;
    el.stage.addEventListener("wheel", (event) => {
      if (!state.scan) return;
      event.preventDefault();
      const rect = el.stage.getBoundingClientRect();
      const delta = event.deltaMode === 1 ? event.deltaY * 40 : event.deltaY;
      zoomAt(Math.exp(-delta * 0.0015), event.clientX - rect.left, event.clientY - rect.top);
    }, { passive: false });
    el.stage.addEventListener("pointerdown", (event) => {
      if (!state.scan || event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, tx: state.view.tx, ty: state.view.ty };
      el.stage.setPointerCapture(event.pointerId);
      el.stage.classList.add("dragging");
    });
    el.stage.addEventListener("pointermove", (event) => {
      if (drag) {
        state.view = {
          ...state.view, tx: drag.tx + event.clientX - drag.x, ty: drag.ty + event.clientY - drag.y, fitted: false,
        };
        requestDraw();
      } else if (state.scan && state.render.boxes) {
        setHover(findingAt(event.clientX, event.clientY));
      }
    });
    const endDrag = (event) => {
      if (!drag) return;
      drag = null;
      el.stage.classList.remove("dragging");
      if (el.stage.hasPointerCapture(event.pointerId)) el.stage.releasePointerCapture(event.pointerId);
    };
    el.stage.addEventListener("pointerup", endDrag);
    el.stage.addEventListener("pointercancel", endDrag);
    el.stage.addEventListener("pointerleave", () => { if (!drag) setHover(-1); });
    el.stage.addEventListener("dblclick", fitView);
    new ResizeObserver(() => {
      if (state.view.fitted) fitView();
      else requestDraw();
    }).observe(el.stage);
  }

  // ------------------------------------------------------------------ render controls
  function syncRenderControls() {
    const r = state.render;
    const auto = r.window === null || r.level === null;
    el.wlWindow.value = String(auto ? SLIDER_REST.window : r.window);
    el.wlLevel.value = String(auto ? SLIDER_REST.level : r.level);
    el.wlWindowValue.textContent = auto ? "auto" : r.window.toFixed(2);
    el.wlLevelValue.textContent = auto ? "auto" : r.level.toFixed(2);
    el.wlWindow.setAttribute("aria-valuetext", auto ? "automatic" : r.window.toFixed(2));
    el.wlLevel.setAttribute("aria-valuetext", auto ? "automatic" : r.level.toFixed(2));
    el.invert.setAttribute("aria-pressed", String(r.invert));
    el.colour.setAttribute("aria-pressed", String(r.colour));
    el.enhance.setAttribute("aria-pressed", String(r.enhance));
    el.boxes.setAttribute("aria-pressed", String(r.boxes));
  }

  function setRender(changes, { reload = true } = {}) {
    Object.assign(state.render, changes);
    syncRenderControls();
    if (reload) scheduleImage();
    requestDraw();
  }

  function toggle(key) {
    if (state.privacy && key !== "boxes") return;
    setRender({ [key]: !state.render[key] }, { reload: key !== "boxes" });
  }

  function applyPrivacy() {
    el.privacy.setAttribute("aria-pressed", String(state.privacy));
    document.body.classList.toggle("privacy", state.privacy);
    for (const control of [el.wlWindow, el.wlLevel, el.wlPreset, el.invert, el.colour, el.enhance]) {
      control.disabled = state.privacy;
    }
    el.stage.setAttribute("aria-label", state.privacy
      ? "Detections shown on a generic body outline (privacy mode)"
      : "Scan image; drag to pan, wheel to zoom");
    if (state.scan) {
      prepareStage();
      if (!state.privacy) scheduleImage(0);
      requestDraw();
    }
  }

  function togglePrivacy() {
    state.privacy = !state.privacy;
    if (state.privacy) {
      cancelImage();
      el.scanImage.hidden = true;
    }
    applyPrivacy();
  }

  // ------------------------------------------------------------------ help and keyboard
  let helpReturnFocus = null;

  function openHelp() {
    helpReturnFocus = document.activeElement;
    el.help.hidden = false;
    el.helpClose.focus();
  }

  function closeHelp() {
    el.help.hidden = true;
    if (helpReturnFocus && helpReturnFocus.focus) helpReturnFocus.focus();
  }

  function focusReview() {
    el.review.scrollIntoView({ block: "nearest" });
    const first = el.findingsList.querySelector("input[type=radio]") ||
      el.reviewForm.querySelector("input[name=outcome]:checked") ||
      el.reviewForm.querySelector("input[name=outcome]");
    if (first) first.focus();
  }

  function onKey(event) {
    if (el.consoleView.hidden) return;
    if (!el.help.hidden) {
      if (event.key === "Escape" || event.key === "?") {
        event.preventDefault();
        closeHelp();
      } else if (event.key === "Tab") {
        event.preventDefault();
        el.help.querySelector("#help-close").focus();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = target instanceof HTMLElement &&
      (target.isContentEditable || ["TEXTAREA", "SELECT"].includes(target.tagName) ||
        (target.tagName === "INPUT" && !["radio", "checkbox", "button", "range"].includes(target.type)));
    if (typing) {
      if (event.key === "Escape") target.blur();
      return;
    }
    // radio groups and sliders keep their own arrow keys
    const ownArrows = target instanceof HTMLInputElement && ["radio", "range"].includes(target.type);
    if (ownArrows && event.key.startsWith("Arrow")) return;
    const actions = {
      j: () => moveSelection(1),
      k: () => moveSelection(-1),
      ArrowDown: () => moveSelection(1),
      ArrowUp: () => moveSelection(-1),
      "+": () => zoomCentre(1.25),
      "=": () => zoomCentre(1.25),
      "-": () => zoomCentre(0.8),
      _: () => zoomCentre(0.8),
      0: fitView,
      i: () => toggle("invert"),
      b: () => toggle("boxes"),
      e: () => toggle("enhance"),
      c: () => toggle("colour"),
      p: togglePrivacy,
      r: focusReview,
      "?": openHelp,
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  // ------------------------------------------------------------------ start
  function bind() {
    const ids = {
      loginView: "login-view", loginForm: "login-form", loginToken: "login-token", loginError: "login-error",
      consoleView: "console-view", conn: "conn-status", privacy: "privacy-toggle", helpButton: "help-button",
      logout: "logout-button", queueList: "queue-list", queueMore: "queue-more", queueEmpty: "queue-empty", queueCount: "queue-count",
      announcer: "queue-announcer", stage: "stage", stageContent: "stage-content", scanImage: "scan-image",
      bodyOutline: "body-outline", overlay: "overlay", stageMessage: "stage-message", imageBusy: "image-busy",
      zoomIn: "zoom-in", zoomOut: "zoom-out", zoomFit: "zoom-fit", zoomLevel: "zoom-level",
      wlWindow: "wl-window", wlLevel: "wl-level", wlWindowValue: "wl-window-value",
      wlLevelValue: "wl-level-value", wlPreset: "wl-preset", invert: "tool-invert", colour: "tool-colour",
      enhance: "tool-enhance", boxes: "tool-boxes", detailsBody: "details-body", findingsList: "findings-list",
      side: "side-panel", review: "review", reviewSummary: "review-summary", reviewForm: "review-form", reviewNote: "review-note",
      reviewError: "review-error", reviewSubmit: "review-submit", help: "help-overlay", helpClose: "help-close",
    };
    for (const [key, id] of Object.entries(ids)) el[key] = $(id);
    el.filters = Array.from(document.querySelectorAll(".filter"));

    el.loginForm.addEventListener("submit", onLogin);
    el.logout.addEventListener("click", () => signOut("Signed out."));
    el.privacy.addEventListener("click", togglePrivacy);
    el.helpButton.addEventListener("click", openHelp);
    el.helpClose.addEventListener("click", closeHelp);
    el.help.addEventListener("click", (event) => { if (event.target === el.help) closeHelp(); });
    for (const button of el.filters) button.addEventListener("click", () => setFilter(button.dataset.decision));
    el.queueMore.addEventListener("click", () => loadQueue({ older: true }));
    el.zoomIn.addEventListener("click", () => zoomCentre(1.25));
    el.zoomOut.addEventListener("click", () => zoomCentre(0.8));
    el.zoomFit.addEventListener("click", fitView);
    const fromSliders = () => ({ window: Number(el.wlWindow.value), level: Number(el.wlLevel.value) });
    el.wlWindow.addEventListener("input", () => setRender(fromSliders()));
    el.wlLevel.addEventListener("input", () => setRender(fromSliders()));
    el.wlPreset.addEventListener("change", () => {
      const preset = PRESETS[el.wlPreset.value];
      if (preset) setRender({ ...preset });
      el.wlPreset.value = "";
    });
    el.invert.addEventListener("click", () => toggle("invert"));
    el.colour.addEventListener("click", () => toggle("colour"));
    el.enhance.addEventListener("click", () => toggle("enhance"));
    el.boxes.addEventListener("click", () => toggle("boxes"));
    el.reviewForm.addEventListener("submit", onReviewSubmit);
    document.addEventListener("keydown", onKey);
    setupStage();
  }

  function start() {
    bind();
    const params = new URLSearchParams(window.location.search);
    state.privacy = ["1", "true", "yes", "on"].includes((params.get("privacy") || "").toLowerCase());
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) {
      startConsole(token);
    } else {
      showLogin("");
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
