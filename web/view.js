// The DOM: paints what main.js computed. No arithmetic on amounts here; every number
// arrives as text (flow.formatUnits) or as a decimal string for a data-* attribute.

const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key === "title" || key === "type" || key === "name") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function showMessage(text, { error = false } = {}) {
  const box = $("#message");
  box.textContent = text;
  box.hidden = !text;
  box.classList.toggle("error", error);
}

export function showChain(text) {
  $("#chain").textContent = text;
}

export function showAccount(account, { connected }) {
  $("#intro").hidden = true;
  $("#account").hidden = false;
  $("#account-address").textContent = account;
  $("#actions").hidden = !connected;
  $("#lookup-account").value = account;
}

export function showConnected(account) {
  const button = $("#connect");
  button.textContent = account ? `Wallet ${short(account)}` : "Connect wallet";
  button.disabled = Boolean(account);
}

export function short(address) {
  return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : "";
}

/** The token choices of every form (symbol, address as the value). */
export function setTokenChoices(tokens) {
  for (const select of document.querySelectorAll(".token-select")) {
    const chosen = select.value;
    select.replaceChildren(...tokens.map((t) => el("option", { value: t.address }, `${t.symbol} ${short(t.address)}`)));
    if (chosen) select.value = chosen;
  }
}

/**
 * One card per token. `card` holds texts and exact figures:
 * {token, symbol, account, block, wei: {balance, available, committed}, text: {...}, rate, ends, l1}.
 */
export function renderBalances(cards) {
  const root = $("#balances");
  const seen = new Set();
  for (const c of cards) {
    const key = c.token.toLowerCase();
    seen.add(key);
    let card = root.querySelector(`[data-card="${key}"]`);
    if (!card) {
      card = el("section", { class: "card token-card", "data-card": key },
        el("div", { class: "symbol" }),
        el("div", { class: "big balance", "data-figure": "balance" }),
        el("dl", {},
          el("dt", {}, "available"), el("dd", { "data-figure": "available" }),
          el("dt", {}, "committed"), el("dd", { "data-figure": "committed" }),
          el("dt", {}, "net flow"), el("dd", { class: "rate" }),
          el("dt", {}, "commitments end"), el("dd", { class: "ends" }),
          el("dt", {}, "on L1"), el("dd", { class: "l1" })));
      root.append(card);
    }
    card.querySelector(".symbol").textContent = `${c.symbol} · ${short(c.token)}`;
    for (const figure of ["balance", "available", "committed"]) {
      const node = card.querySelector(`[data-figure="${figure}"]`);
      node.dataset.account = c.account;
      node.dataset.token = c.token;
      node.dataset.block = String(c.block);
      node.dataset.wei = c.wei[figure];
      node.title = `${c.wei[figure]} base units at block ${c.block}`;
      if (figure !== "balance") node.textContent = c.text[figure];
    }
    card.querySelector(".rate").textContent = c.rate;
    card.querySelector(".ends").textContent = c.ends;
    card.querySelector(".l1").textContent = c.l1;
  }
  for (const card of root.querySelectorAll("[data-card]")) {
    if (!seen.has(card.dataset.card)) card.remove();
  }
}

/** The flowing figure of one card (called every ~50 ms), with the decimals it shows and
 * the block time it moves over, so a reader (or a test) can tell what a frame means. */
export function paintFlowing(token, text, places, blockMs) {
  const node = document.querySelector(`[data-card="${token.toLowerCase()}"] .balance`);
  if (!node) return;
  node.dataset.places = String(places);
  node.dataset.blockMs = String(blockMs);
  if (node.textContent !== text) node.textContent = text;
}

const streamRows = new Map();  // stream id -> its <tr>, kept between blocks

/** Stream rows: {id, direction, counterparty, rate, start, startDate, end, endDate, streamed,
 * streamedWei, percent, progressCss, status, canCancel, canUpdate}. A row is built once and
 * then only its moving cells change, so a block costs little with a thousand streams. */
export function renderStreams(rows, hidden, handlers) {
  const body = $("#streams tbody");
  const wanted = rows.map((r) => {
    const shape = [r.direction, r.counterparty, r.rate, r.start, r.startDate, r.end, r.endDate, r.canCancel, r.canUpdate].join("|");
    let tr = streamRows.get(r.id);
    if (!tr || tr.dataset.shape !== shape) {
      tr = streamRow(r, handlers);
      tr.dataset.shape = shape;
      streamRows.set(r.id, tr);
    }
    if (tr.dataset.streamed !== r.streamedWei || tr.dataset.status !== r.status) {
      tr.dataset.streamed = r.streamedWei;
      tr.dataset.status = r.status;
      const [streamed, progress, status] = tr.querySelectorAll(".moving");
      streamed.textContent = r.streamed;
      streamed.title = `${r.streamedWei} base units`;
      progress.firstChild.textContent = r.percent;
      progress.querySelector("i").style.width = r.progressCss;
      status.className = `moving status ${r.status}`;
      status.textContent = r.status;
    }
    return tr;
  });
  if (wanted.length === 0) {
    body.replaceChildren(el("tr", {}, el("td", { colSpan: 10, class: "muted" }, "no streams")));
    return;
  }
  if (hidden > 0) {
    wanted.push(el("tr", { class: "more" }, el("td", { colSpan: 10 },
      el("button", { class: "link", type: "button", onclick: handlers.more }, `show more (${hidden} not shown)`))));
  }
  const same = wanted.length === body.children.length && wanted.every((tr, i) => body.children[i] === tr
    || (tr.className === "more" && body.children[i].className === "more" && tr.textContent === body.children[i].textContent));
  if (!same) body.replaceChildren(...wanted);
}

function streamRow(r, handlers) {
  const actions = el("td", {});
  if (r.canCancel) actions.append(el("button", { class: "link", type: "button", onclick: () => handlers.cancel(r.id) }, "cancel"));
  if (r.canUpdate) actions.append(el("button", { class: "link", type: "button", onclick: () => handlers.update(r.id) }, "update"));
  return el("tr", { "data-stream-id": String(r.id) },
    el("td", {}, `#${r.id}`),
    el("td", { class: r.direction === "in" ? "in" : "out" }, r.direction === "in" ? "← in" : "→ out"),
    el("td", { class: "addr", title: r.counterparty }, short(r.counterparty)),
    el("td", {}, r.rate),
    el("td", {}, String(r.start), el("span", { class: "date" }, r.startDate)),
    el("td", {}, String(r.end), el("span", { class: "date" }, r.endDate)),
    el("td", { class: "moving" }),
    el("td", { class: "moving" }, "", el("div", { class: "bar" }, el("i", {}))),
    el("td", {}, el("span", { class: "moving status" })),
    actions);
}

/** Activity items: {block, text, voucher?: {index, state, canExecute}}. */
export function renderActivity(items, older, handlers) {
  const list = $("#activity");
  list.replaceChildren(...items.map((item) => {
    const li = el("li", { "data-output-index": item.index === undefined ? undefined : String(item.index) },
      el("span", { class: "block" }, `block ${item.block}`), item.text);
    if (item.voucher) {
      li.dataset.voucherState = item.voucher.state;
      li.append(" — ", el("span", { class: "voucher-state" }, item.voucher.state));
      if (item.voucher.canExecute) {
        li.append(" ", el("button", { class: "small", type: "button", "data-execute": String(item.index),
          onclick: () => handlers.execute(item.index) }, "Execute on L1"));
      }
    }
    return li;
  }));
  if (older > 0) list.append(el("li", { class: "muted" }, `… ${older} older (all of them are in the CSV)`));
}

/** The chart: `geometry` from flow.chartGeometry (pixel coordinates and labels). */
export function renderChart(geometry) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${geometry.width} ${geometry.height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const line = (cls, points) => {
    const p = document.createElementNS(ns, "polyline");
    p.setAttribute("class", cls);
    p.setAttribute("points", points.map(([x, y]) => `${x},${y}`).join(" "));
    svg.append(p);
  };
  line("past", geometry.past);
  line("future", geometry.future);
  const now = document.createElementNS(ns, "line");
  now.setAttribute("class", "now");
  for (const [k, v] of Object.entries({ x1: geometry.nowX, x2: geometry.nowX, y1: 0, y2: geometry.height })) now.setAttribute(k, v);
  svg.append(now);
  for (const label of geometry.labels) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", label.x);
    t.setAttribute("y", label.y);
    t.setAttribute("text-anchor", label.anchor ?? "start");
    t.textContent = label.text;
    svg.append(t);
  }
  $("#chart").replaceChildren(svg);
}

export function showProjection(text) {
  $("#projection-answer").textContent = text;
}

/** Reads a form's fields as strings. */
export function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

export function setBusy(form, busy) {
  for (const b of form.querySelectorAll("button")) b.disabled = busy;
}

export function download(name, text) {
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}
