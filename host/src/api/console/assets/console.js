// The Switchyard console: the routes as a graph with live figures, dead letters with redrive,
// and archive replay. Everything comes from the admin API of the host that serves this page;
// there is no build step and no library.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLUMNS = ["Tables", "Pipes", "Buses", "Rules", "Queues", "Consumers"];
const NODE = { width: 184, height: 84, gapX: 46, gapY: 22, top: 34, left: 16 };

const state = {
  graph: null,
  samples: [],
  intervalMs: 1000,
  latest: null, // the last /admin/stats answer
  polling: false,
};

const $ = (selector, root = document) => root.querySelector(selector);

class SignedOut extends Error {}

async function api(path, options = {}) {
  const headers = { accept: "application/json" };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    credentials: "same-origin",
    ...options,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (response.status === 401) {
    showSignIn();
    throw new SignedOut("signed out");
  }
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error((body && body.error && body.error.message) || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function el(tag, attributes = {}, ...children) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS(SVG, tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function format(n) {
  if (n === undefined || n === null) return "–";
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

// ---------------------------------------------------------------------------------- sign-in

function showSignIn() {
  state.polling = false;
  $("#sign-in").hidden = false;
  $("#tabs").hidden = true;
  $("#sign-out").hidden = true;
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
  setStatus("signed out", true);
  $("#token").focus();
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#sign-in-error").textContent = "";
  try {
    await api("/console/session", { method: "POST", body: { token: $("#token").value } });
  } catch (error) {
    $("#sign-in-error").textContent =
      error instanceof SignedOut ? "That is not the admin door's token." : error.message;
    return;
  }
  $("#token").value = "";
  $("#sign-in").hidden = true;
  start();
});

$("#sign-out").addEventListener("click", async () => {
  await fetch("/console/session", { method: "DELETE", credentials: "same-origin" });
  showSignIn();
});

function setStatus(text, down = false) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("down", down);
}

// -------------------------------------------------------------------------------- the views

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => showView(tab.dataset.view));
}

function showView(name) {
  for (const tab of document.querySelectorAll(".tab")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === name));
  }
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== name;
  if (name === "dead-letters") loadDeadLetters();
}

async function start() {
  try {
    state.graph = await api("/admin/graph");
  } catch (error) {
    if (!(error instanceof SignedOut)) setStatus("cannot read the routes: " + error.message, true);
    return;
  }
  $("#sign-in").hidden = true;
  $("#tabs").hidden = false;
  $("#sign-out").hidden = false;
  drawGraph(state.graph);
  fillPickers(state.graph);
  const current = document.querySelector(".tab[aria-selected=true]");
  showView(current ? current.dataset.view : "overview");
  if (!state.polling) {
    state.polling = true;
    poll();
  }
}

// -------------------------------------------------------------------------------- the graph

function layout(graph) {
  const columns = COLUMNS.map(() => []);
  for (const node of graph.nodes) columns[node.column].push(node);
  // DLQs under the queues that feed them.
  columns[4].sort((a, b) => Number(a.dlq) - Number(b.dlq));
  const at = new Map();
  columns.forEach((nodes, c) =>
    nodes.forEach((node, r) =>
      at.set(node.id, {
        x: NODE.left + c * (NODE.width + NODE.gapX),
        y: NODE.top + r * (NODE.height + NODE.gapY),
      }),
    ),
  );
  const rows = Math.max(1, ...columns.map((c) => c.length));
  return {
    at,
    width: NODE.left * 2 + COLUMNS.length * NODE.width + (COLUMNS.length - 1) * NODE.gapX,
    height: NODE.top + rows * (NODE.height + NODE.gapY) + 8,
  };
}

function edgePath(from, to, kind) {
  const { width: w, height: h } = NODE;
  if (from.x === to.x) {
    // Same column (a queue to its DLQ): around the right side.
    const x = from.x + w, y1 = from.y + h / 2, y2 = to.y + h / 2;
    return `M${x},${y1} C${x + 34},${y1} ${x + 34},${y2} ${x},${y2}`;
  }
  if (kind === "dlq" && to.y > from.y) {
    // Down from the node's foot, under the columns between, into the DLQ's side.
    const x1 = from.x + w / 2, y1 = from.y + h, x2 = to.x, y2 = to.y + h / 2;
    return `M${x1},${y1} C${x1},${y2} ${x2 - 60},${y2} ${x2},${y2}`;
  }
  const x1 = from.x + w, y1 = from.y + h / 2, x2 = to.x, y2 = to.y + h / 2;
  const bend = Math.max(30, Math.abs(x2 - x1) / 2);
  return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
}

function drawGraph(graph) {
  const svg = $("#graph");
  svg.replaceChildren();
  const { at, width, height } = layout(graph);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const defs = el("svg:defs");
  for (const [id, color] of [["arrow", "#9aa3b5"], ["arrow-dlq", "#c8372d"]]) {
    defs.append(
      el("svg:marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        el("svg:path", { d: "M0,0 L10,5 L0,10 z", fill: color })),
    );
  }
  svg.append(defs);
  COLUMNS.forEach((title, c) =>
    svg.append(el("svg:text", { class: "column-title", x: NODE.left + c * (NODE.width + NODE.gapX), y: 20 }, title)),
  );
  for (const edge of graph.edges) {
    const from = at.get(edge.from), to = at.get(edge.to);
    if (!from || !to) continue;
    svg.append(el("svg:path", {
      class: `edge ${edge.kind}`,
      d: edgePath(from, to, edge.kind),
      "data-from": edge.from,
      "data-to": edge.to,
      "marker-end": `url(#${edge.kind === "dlq" ? "arrow-dlq" : "arrow"})`,
    }));
  }
  for (const node of graph.nodes) {
    const { x, y } = at.get(node.id);
    const kind = node.dlq ? "dead-letter queue" : node.kind;
    const g = el("svg:g", {
      class: `node kind-${node.kind}${node.dlq ? " dlq" : ""}`,
      "data-id": node.id,
      "data-kind": node.kind,
      transform: `translate(${x},${y})`,
    },
      el("svg:title", {}, [node.id, ...(node.details || [])].join("\n")),
      el("svg:rect", { class: "box", width: NODE.width, height: NODE.height, rx: 8 }),
      el("svg:rect", { class: "band", width: 4, height: NODE.height - 16, x: 0, y: 8, rx: 2 }),
      el("svg:text", { class: "kind", x: 12, y: 16 }, kind),
      el("svg:text", { class: "name", x: 12, y: 34 }, clip(node.name, 22)),
      el("svg:text", { class: "figure", x: 12, y: 52 }, (node.details || [])[0] || ""),
      el("svg:polyline", { class: "spark", points: "" }),
    );
    svg.append(g);
  }
}

function clip(text, n) {
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

// ------------------------------------------------------------------------- the live figures

async function poll() {
  while (state.polling) {
    const since = state.samples.length ? state.samples[state.samples.length - 1].t : undefined;
    try {
      const stats = await api("/admin/stats" + (since ? `?since=${since}` : ""));
      state.intervalMs = stats.intervalMs;
      state.latest = stats;
      state.samples.push(...stats.samples);
      const keep = Math.ceil(300000 / stats.intervalMs);
      if (state.samples.length > keep) state.samples.splice(0, state.samples.length - keep);
      render();
      setStatus("live · " + new Date().toLocaleTimeString());
    } catch (error) {
      if (error instanceof SignedOut) return;
      setStatus("disconnected: " + error.message, true);
    }
    await sleep(state.intervalMs);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A stage's series over the samples: a counter's rate per second, or a gauge as it is.
function series(pick, counter = true) {
  const points = [];
  for (let i = counter ? 1 : 0; i < state.samples.length; i++) {
    const now = pick(state.samples[i]);
    if (now === undefined || now === null) continue;
    if (!counter) { points.push(now); continue; }
    const before = pick(state.samples[i - 1]);
    if (before === undefined || before === null) continue;
    const seconds = (state.samples[i].t - state.samples[i - 1].t) / 1000 || 1;
    points.push(Math.max(0, (now - before) / seconds));
  }
  return points;
}

function rate(pick) {
  const points = series(pick);
  const recent = points.slice(-5);
  return recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : 0;
}

function sparkPoints(points, width, height, x0 = 0, y0 = 0) {
  if (points.length < 2) return "";
  const top = Math.max(...points, 1e-9);
  const step = width / (points.length - 1);
  return points
    .map((p, i) => `${(x0 + i * step).toFixed(1)},${(y0 + height - (p / top) * height).toFixed(1)}`)
    .join(" ");
}

// What each stage shows: its figures, its state, the number the test and eye follow (total),
// its rate, and its sparkline.
function stages() {
  const stats = state.latest;
  if (!stats || !state.graph) return [];
  const last = state.samples[state.samples.length - 1] || {};
  const pipeReports = new Map((stats.pipes || []).map((p) => [p.name, p]));
  const consumerReports = new Map((stats.consumers || []).map((c) => [c.name, c]));
  const queueReports = new Map((stats.queues || []).map((q) => [q.name, q]));
  const out = [];
  for (const node of state.graph.nodes) {
    const name = node.name;
    const stage = { node, state: "running", reason: null, figures: "", total: 0, rate: null, spark: [] };
    switch (node.kind) {
      case "table": {
        const pipes = state.graph.edges.filter((e) => e.from === node.id).map((e) => e.to.slice(5));
        const read = (s) => pipes.reduce((n, p) => n + ((s.pipes || {})[p] || {}).read || 0, 0);
        stage.total = read(last);
        stage.figures = `${format(stage.total)} change records read`;
        stage.rate = rate(read);
        stage.spark = series(read);
        break;
      }
      case "pipe": {
        const report = pipeReports.get(name) || {};
        const pick = (field) => (s) => ((s.pipes || {})[name] || {})[field];
        stage.total = report.read || 0;
        stage.state = report.state || "running";
        stage.reason = report.stuck || null;
        stage.figures = `in ${format(report.read)} · out ${format(report.delivered)} · filtered ${format(report.filtered)} · failed ${format(report.failedAttempts ?? report.failed_attempts)} · DLQ ${format(report.deadLettered ?? report.dead_lettered)}` +
          (report.lag !== null && report.lag !== undefined ? ` · lag ${format(report.lag)}` : "");
        stage.short = `in ${format(rate(pick("read")))}/s · out ${format(rate(pick("delivered")))}/s`;
        stage.rate = rate(pick("read"));
        stage.spark = series(pick("read"));
        break;
      }
      case "bus": {
        const rules = state.graph.edges.filter((e) => e.from === node.id).map((e) => e.to.slice(5));
        const events = (s) => rules.reduce((n, r) => n + (((s.rules || {})[r] || {}).matched || 0), 0) + (((s.buses || {})[name] || {}).unmatched || 0);
        const unmatched = ((last.buses || {})[name] || {}).unmatched || 0;
        stage.total = events(last);
        stage.figures = `${format(stage.total)} matched or unmatched · ${format(unmatched)} unmatched`;
        stage.rate = rate(events);
        stage.spark = series(events);
        break;
      }
      case "rule": {
        const pick = (s) => ((s.rules || {})[name] || {}).matched;
        stage.total = pick(last) || 0;
        stage.figures = `${format(stage.total)} matched`;
        stage.rate = rate(pick);
        stage.spark = series(pick);
        break;
      }
      case "queue": {
        const report = queueReports.get(name) || {};
        const pick = (s) => ((s.queues || {})[name] || {}).visible;
        stage.total = report.visible || 0;
        stage.figures = `${format(report.visible)} visible · ${format(report.inFlight ?? report.in_flight)} in flight · ${format(report.delayed)} delayed`;
        stage.rate = null;
        stage.gauge = true;
        stage.spark = series(pick, false);
        break;
      }
      case "consumer": {
        const report = consumerReports.get(name) || {};
        const pick = (s) => ((s.consumers || {})[name] || {}).received;
        stage.total = report.received || 0;
        stage.state = report.state || "running";
        stage.reason = report.stuck || null;
        stage.figures = `ok ${format(report.succeeded)} · retried ${format(report.retried)} · DLQ ${format(report.dead_lettered)} · failed batches ${format(report.failed_batches)}`;
        stage.rate = rate(pick);
        stage.spark = series(pick);
        break;
      }
    }
    out.push(stage);
  }
  for (const plugin of Object.keys(last.plugins || {})) {
    const pick = (s) => ((s.plugins || {})[plugin] || {}).invocations;
    const numbers = last.plugins[plugin];
    out.push({
      node: { id: "plugin:" + plugin, kind: "plugin", name: plugin },
      state: "running",
      reason: null,
      figures: `${format(numbers.invocations)} calls · ${format(numbers.errors)} errors`,
      total: numbers.invocations,
      rate: rate(pick),
      spark: series(pick),
    });
  }
  return out;
}

function render() {
  const all = stages();
  for (const stage of all) {
    const g = document.querySelector(`#graph .node[data-id="${CSS.escape(stage.node.id)}"]`);
    if (!g) continue;
    g.classList.toggle("stuck", stage.state === "stuck");
    g.dataset.total = String(stage.total);
    g.dataset.state = stage.state;
    const figure = $(".figure", g);
    const text = stage.state === "stuck"
      ? "stuck: " + (stage.reason || "")
      : stage.short || (stage.rate !== null && stage.rate !== undefined ? `${stage.figures.split(" · ")[0]} · ${format(stage.rate)}/s` : stage.figures.split(" · ").slice(0, 2).join(" · "));
    figure.textContent = clip(text, 28);
    $("title", g).textContent = [stage.node.id, stage.figures, stage.reason || ""].filter(Boolean).join("\n");
    $(".spark", g).setAttribute("points", sparkPoints(stage.spark.slice(-60), NODE.width - 24, 16, 12, NODE.height - 24));
  }
  const body = $("#stages tbody");
  const rows = all.filter((s) => s.node.kind !== "table").map((stage) => {
    const spark = el("svg:svg", { class: "spark", width: 160, height: 26, viewBox: "0 0 160 26" });
    const points = sparkPoints(stage.spark, 158, 22, 1, 2);
    if (points) spark.append(el("svg:polyline", { points }));
    const stateCell = el("td", { class: "state-" + stage.state }, stage.state === "stuck" ? "stuck: " + (stage.reason || "") : stage.state);
    return el("tr", { class: "kind-" + stage.node.kind, "data-id": stage.node.id },
      el("td", {}, el("span", { class: "dot" }), stage.node.kind + " ", el("strong", {}, stage.node.name)),
      stateCell,
      el("td", {}, stage.figures),
      el("td", { class: "num" }, stage.gauge ? "" : `${format(stage.rate || 0)}/s`),
      el("td", {}, spark),
    );
  });
  body.replaceChildren(...rows);
}

// --------------------------------------------------------------------------- dead letters

function fillPickers(graph) {
  const dlqs = graph.nodes.filter((n) => n.kind === "queue" && n.dlq);
  const select = $("#dlq-select");
  const chosen = select.value;
  select.replaceChildren(...dlqs.map((n) => el("option", { value: n.name }, n.name)));
  if (dlqs.some((n) => n.name === chosen)) select.value = chosen;
  const buses = graph.nodes.filter((n) => n.kind === "bus" && n.archive);
  $("#replay-bus").replaceChildren(...buses.map((n) => el("option", { value: n.name }, n.name)));
  $("#replay-none").hidden = buses.length > 0;
  $("#replay-form").hidden = buses.length === 0;
  const hourAgo = new Date(Date.now() - 3600 * 1000);
  if (!$("#replay-from").value) $("#replay-from").value = localInput(hourAgo);
}

function localInput(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 19);
}

$("#dlq-select").addEventListener("change", () => loadDeadLetters());
$("#dlq-refresh").addEventListener("click", () => loadDeadLetters());
$("#dlq-check-all").addEventListener("change", (event) => {
  for (const box of document.querySelectorAll("#dlq-messages tbody input[type=checkbox]")) {
    box.checked = event.target.checked;
  }
  updateSelection();
});

function updateSelection() {
  $("#redrive-selected").disabled = selectedIds().length === 0;
}

function selectedIds() {
  return [...document.querySelectorAll("#dlq-messages tbody input[type=checkbox]:checked")].map((b) => b.value);
}

async function loadDeadLetters() {
  const queue = $("#dlq-select").value;
  const body = $("#dlq-messages tbody");
  if (!queue) { body.replaceChildren(); $("#dlq-empty").hidden = false; return; }
  let messages;
  try {
    messages = (await api(`/admin/queues/${encodeURIComponent(queue)}/messages?limit=100`)).messages;
  } catch (error) {
    if (!(error instanceof SignedOut)) setStatus("cannot read the DLQ: " + error.message, true);
    return;
  }
  $("#dlq-check-all").checked = false;
  body.replaceChildren(...messages.map((m) => {
    const box = el("input", { type: "checkbox", value: m.messageId, "aria-label": "Select " + m.messageId });
    box.addEventListener("change", updateSelection);
    return el("tr", { "data-message-id": m.messageId },
      el("td", {}, box),
      el("td", {}, el("code", {}, m.messageId)),
      el("td", {}, m.origin || ""),
      el("td", { class: "error" }, m.error || ""),
      el("td", { class: "num" }, m.receiveCount),
      el("td", {}, new Date(m.sentTimestampMs).toLocaleString()),
      el("td", { class: "body" }, clip(m.body, 400)),
    );
  }));
  $("#dlq-empty").hidden = messages.length > 0;
  updateSelection();
}

$("#redrive-selected").addEventListener("click", () => redrive(selectedIds()));
$("#redrive-all").addEventListener("click", () => redrive(null));

async function redrive(ids) {
  const queue = $("#dlq-select").value;
  if (!queue) return;
  const body = {};
  const rate = parseFloat($("#redrive-rate").value);
  if (!Number.isNaN(rate)) body.rate = rate;
  if (ids) body.messageIds = ids;
  const buttons = ["#redrive-selected", "#redrive-all"].map((s) => $(s));
  buttons.forEach((b) => (b.disabled = true));
  const result = await withProgress($("#redrive-progress"), "redrive", queue, () =>
    api(`/admin/queues/${encodeURIComponent(queue)}/redrive`, { method: "POST", body }),
    (done) => {
      const skipped = (done.skipped || []).length;
      return `moved ${done.moved}` + (skipped ? ` · ${skipped} left on the DLQ: ${done.skipped.map((s) => s.reason).join("; ")}` : "");
    });
  buttons.forEach((b) => (b.disabled = false));
  if (result) await loadDeadLetters();
}

// Runs a long operation, showing its task's progress (from /admin/tasks) while it runs.
async function withProgress(box, kind, name, run, describe) {
  const fill = $(".fill", box), text = $(".text", box);
  box.hidden = false;
  box.className = "progress indeterminate";
  fill.style.width = "";
  text.textContent = `${kind} of ${name} started…`;
  let running = true;
  const started = Date.now();
  const watch = (async () => {
    while (running) {
      await sleep(250);
      if (!running) break;
      try {
        const tasks = (await api("/admin/tasks")).tasks || [];
        const task = tasks.find((t) => t.kind === kind && t.name === name && t.state === "running" && Date.parse(t.startedAt) >= started - 5000);
        if (task && running) {
          if (task.total) {
            box.className = "progress";
            fill.style.width = `${Math.min(100, (100 * task.done) / task.total)}%`;
            text.textContent = `${kind}: ${task.done} of ${task.total}`;
          } else {
            text.textContent = `${kind}: ${task.done} so far`;
          }
        }
      } catch (error) {
        if (error instanceof SignedOut || error.status === 404) return;
      }
    }
  })();
  try {
    let done = await run();
    running = false;
    await watch;
    // A task the service runs on its own (SQS's move task) goes on after the answer.
    while (done.taskId) {
      const task = await api(`/admin/tasks/${encodeURIComponent(done.taskId)}`);
      if (task.state !== "running") {
        if (task.state === "failed") throw new Error(task.error || "the task failed");
        done = { ...(task.result || done), taskHandle: undefined, taskId: undefined };
        break;
      }
      box.className = task.total ? "progress" : "progress indeterminate";
      if (task.total) fill.style.width = `${Math.min(100, (100 * task.done) / task.total)}%`;
      text.textContent = `${kind}: ${task.done}${task.total ? " of " + task.total : " so far"}`;
      await sleep(1000);
    }
    box.className = "progress done";
    fill.style.width = "100%";
    text.textContent = describe(done);
    return done;
  } catch (error) {
    running = false;
    await watch;
    box.className = "progress failed";
    fill.style.width = "100%";
    text.textContent = error instanceof SignedOut ? "signed out" : `${kind} failed: ${error.message}`;
    return null;
  }
}

// --------------------------------------------------------------------------------- replay

$("#replay-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const bus = $("#replay-bus").value;
  const body = { from: new Date($("#replay-from").value).toISOString() };
  if ($("#replay-to").value) body.to = new Date($("#replay-to").value).toISOString();
  const button = $("#replay-form button");
  button.disabled = true;
  await withProgress($("#replay-progress"), "replay", bus, () =>
    api(`/admin/buses/${encodeURIComponent(bus)}/replay`, { method: "POST", body }),
    (done) => `replayed ${done.replayed} events as ${done.replayName}`);
  button.disabled = false;
});

start();
