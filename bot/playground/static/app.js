"use strict";
// OpsPilot playground: renders the emulator's workspace like Slack and sends user actions back.

const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", rocket: "🚀", warning: "⚠️",
  hourglass_flowing_sand: "⏳", hourglass: "⌛", large_green_circle: "🟢", red_circle: "🔴",
  large_yellow_circle: "🟡", large_blue_circle: "🔵", rotating_light: "🚨", arrows_counterclockwise: "🔄",
  shield: "🛡️", bar_chart: "📊", memo: "📝", wrench: "🔧", mag: "🔍", moneybag: "💰", lock: "🔒",
  unlock: "🔓", package: "📦", scroll: "📜", electric_plug: "🔌", fire: "🔥", tada: "🎉",
  white_circle: "⚪", black_circle: "⚫", pause_button: "⏸️", no_entry: "⛔", no_entry_sign: "🚫",
  information_source: "ℹ️", clock3: "🕒", clock1: "🕐", stopwatch: "⏱️", eyes: "👀", thumbsup: "👍",
  "+1": "👍", "-1": "👎", thumbsdown: "👎", robot_face: "🤖", gear: "⚙️", hammer_and_wrench: "🛠️",
  link: "🔗", clipboard: "📋", pushpin: "📌", bulb: "💡", bell: "🔔", zap: "⚡", boom: "💥",
  heavy_plus_sign: "➕", heavy_minus_sign: "➖", arrow_right: "➡️", leftwards_arrow_with_hook: "↩️",
  construction: "🚧", computer: "💻", cloud: "☁️", key: "🔑", calendar: "📅", chart_with_upwards_trend: "📈",
  chart_with_downwards_trend: "📉", question: "❓", exclamation: "❗", sparkles: "✨", wave: "👋",
  ok_hand: "👌", raised_hands: "🙌", skull: "💀", stop_sign: "🛑", recycle: "♻️", dart: "🎯",
  test_tube: "🧪", satellite: "📡", inbox_tray: "📥", outbox_tray: "📤", bust_in_silhouette: "👤",
  busts_in_silhouette: "👥", speech_balloon: "💬", heart: "❤️", slightly_smiling_face: "🙂", smile: "😄",
};

const DEFAULT_USER = "U0REQUESTER";
const DEFAULT_CHANNEL = "C0OPS";
const params = new URLSearchParams(location.search);
const ui = {
  user: params.get("user") || localStorage.getItem("playground.user") || DEFAULT_USER,
  target: params.get("channel") || localStorage.getItem("playground.target") || DEFAULT_CHANNEL,
  thread: null,
  state: null,
  modalKey: null,
  loading: false,
  again: false,
};

const $ = (selector, root = document) => root.querySelector(selector);

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---- text ------------------------------------------------------------------

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function decodeEntities(text) {
  return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function emojify(escaped) {
  return escaped.replace(/:([a-z0-9_+\-]+):/g, (match, name) => EMOJI[name] ?? match);
}

function userById(id) {
  return ui.state?.users.find((u) => u.id === id);
}

function channelById(id) {
  return ui.state?.channels.find((c) => c.id === id);
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

function mention(label) {
  return `<span class="mention">${escapeHtml(label)}</span>`;
}

function specialToken(inner) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    const user = userById(target.slice(1));
    return mention("@" + (user ? user.real_name : decodeEntities(label || target.slice(1))));
  }
  if (target.startsWith("#")) {
    const channel = channelById(target.slice(1));
    return mention("#" + (channel ? channel.name : decodeEntities(label || target.slice(1))));
  }
  if (target.startsWith("!")) {
    const word = target.slice(1);
    if (["here", "channel", "everyone"].includes(word)) return mention("@" + word);
    if (word.startsWith("subteam^")) return mention(decodeEntities(label || "@group"));
    if (word.startsWith("date^")) return escapeHtml(decodeEntities(label || word));
  }
  if (/^(https?:\/\/|mailto:)/i.test(target)) {
    const url = decodeEntities(target);
    return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(decodeEntities(label || target))}</a>`;
  }
  return escapeHtml(`<${decodeEntities(inner)}>`);
}

// Slack mrkdwn -> safe HTML. Special tokens and code are set aside first so nothing inside them is reformatted.
function mrkdwn(raw) {
  const slots = [];
  const keep = (html) => `\u0000${slots.push(html) - 1}\u0000`;
  let text = String(raw ?? "");
  text = text.replace(/```([\s\S]*?)```/g, (_, code) => keep(`<pre class="pre">${escapeHtml(decodeEntities(code.replace(/^\n/, "")))}</pre>`));
  text = text.replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${escapeHtml(decodeEntities(code))}</code>`));
  text = text.replace(/<([^<>\n]+)>/g, (_, inner) => keep(specialToken(inner)));
  text = escapeHtml(decodeEntities(text));
  text = text.replace(/(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?!\w)/g, "$1<b>$2</b>");
  text = text.replace(/(^|[^\w])_(?!\s)([^_\n]+?)_(?!\w)/g, "$1<i>$2</i>");
  text = text.replace(/(^|[^\w~])~(?!\s)([^~\n]+?)~(?!\w)/g, "$1<s>$2</s>");
  text = text.replace(/^&gt; ?(.*)$/gm, '<span class="quote">$1</span>');
  text = emojify(text).replace(/\n/g, "<br>");
  return text.replace(/\u0000(\d+)\u0000/g, (_, index) => slots[Number(index)]);
}

function plainText(object) {
  const escaped = escapeHtml(object?.text ?? "");
  return object?.emoji === false ? escaped : emojify(escaped);
}

function textSpan(object, className = "") {
  const html = object?.type === "mrkdwn" ? mrkdwn(object.text) : plainText(object);
  return h("span", { class: `text ${className}`.trim(), html });
}

// ---- blocks -----------------------------------------------------------------

function renderBlocks(blocks, ctx) {
  const wrapper = h("div", { class: "blocks" });
  for (const block of blocks || []) {
    let node;
    try {
      node = renderBlock(block, ctx);
    } catch (error) {
      console.error(error);
      node = null;
    }
    wrapper.append(node || unsupported(block));
  }
  return wrapper;
}

function unsupported(block) {
  return h("div", { class: "block unsupported" },
    h("div", { class: "unsupported-title" }, `unsupported block: ${block?.type ?? "?"}`),
    h("pre", {}, JSON.stringify(block, null, 2)));
}

function renderBlock(block, ctx) {
  const dataset = { blockId: block.block_id ?? "" };
  switch (block.type) {
    case "header":
      return h("div", { class: "block block-header", dataset }, textSpan(block.text));
    case "divider":
      return h("hr", { class: "block block-divider" });
    case "section": {
      const body = h("div", { class: "section-body" });
      if (block.text) body.append(h("div", { class: "section-text" }, textSpan(block.text)));
      if (block.fields?.length) body.append(h("div", { class: "section-fields" }, block.fields.map((f) => h("div", { class: "field" }, textSpan(f)))));
      const accessory = block.accessory ? h("div", { class: "accessory" }, renderElement(block.accessory, block, ctx)) : null;
      return h("div", { class: "block block-section", dataset }, body, accessory);
    }
    case "context":
      return h("div", { class: "block block-context", dataset }, (block.elements || []).map((element) =>
        element.type === "image"
          ? h("img", { class: "context-image", src: element.image_url, alt: element.alt_text || "" })
          : textSpan(element)));
    case "actions":
      return h("div", { class: "block block-actions", dataset }, (block.elements || []).map((element) => renderElement(element, block, ctx)));
    case "image":
      return h("figure", { class: "block block-image", dataset },
        block.title ? h("figcaption", {}, textSpan(block.title)) : null,
        h("img", { src: block.image_url, alt: block.alt_text || "", loading: "lazy" }));
    case "input":
      return renderInputBlock(block, ctx);
    case "rich_text":
      return h("div", { class: "block block-rich-text", dataset }, (block.elements || []).map(renderRichElement));
    default:
      return null;
  }
}

function renderElement(element, block, ctx) {
  switch (element.type) {
    case "button": {
      const button = h("button", {
        type: "button",
        class: `btn ${element.style || ""}`.trim(),
        dataset: { actionId: element.action_id ?? "" },
        html: plainText(element.text),
      });
      button.addEventListener("click", async () => {
        if (element.confirm && !(await askConfirm(element.confirm))) return;
        if (/^https?:\/\//i.test(element.url || "")) window.open(element.url, "_blank", "noopener");
        button.disabled = true;
        try {
          await ctx.onButton(element, block);
        } finally {
          button.disabled = false;
        }
      });
      return button;
    }
    case "image":
      return h("img", { class: "accessory-image", src: element.image_url, alt: element.alt_text || "" });
    case "overflow":
      return h("button", { type: "button", class: "btn overflow", disabled: true, title: "overflow menus are not interactive in the playground" }, "⋯");
    default: {
      const placeholder = element.placeholder ? element.placeholder.text : element.type;
      return h("select", { class: "select", disabled: true, title: `${element.type} is not interactive outside modals` },
        h("option", {}, placeholder));
    }
  }
}

function renderRichElement(element) {
  switch (element.type) {
    case "rich_text_section":
      return h("div", { class: "rt-section" }, (element.elements || []).map(renderRichInline));
    case "rich_text_preformatted":
      return h("pre", { class: "pre" }, (element.elements || []).map((e) => e.text ?? ""));
    case "rich_text_quote":
      return h("blockquote", { class: "quote" }, (element.elements || []).map(renderRichInline));
    case "rich_text_list": {
      const list = h(element.style === "ordered" ? "ol" : "ul", { class: "rt-list" });
      for (const item of element.elements || []) list.append(h("li", {}, renderRichElement(item)));
      return list;
    }
    default:
      return unsupported(element);
  }
}

function renderRichInline(element) {
  let node;
  switch (element.type) {
    case "text":
      node = h("span", { html: escapeHtml(element.text ?? "").replace(/\n/g, "<br>") });
      break;
    case "link":
      node = /^(https?:|mailto:)/i.test(element.url || "")
        ? h("a", { href: element.url, target: "_blank", rel: "noopener noreferrer" }, element.text || element.url)
        : h("span", {}, element.text || element.url || "");
      break;
    case "user": {
      const user = userById(element.user_id);
      node = h("span", { class: "mention" }, "@" + (user ? user.real_name : element.user_id));
      break;
    }
    case "channel": {
      const channel = channelById(element.channel_id);
      node = h("span", { class: "mention" }, "#" + (channel ? channel.name : element.channel_id));
      break;
    }
    case "emoji":
      node = h("span", {}, EMOJI[element.name] ?? `:${element.name}:`);
      break;
    case "broadcast":
      node = h("span", { class: "mention" }, "@" + element.range);
      break;
    default:
      node = h("span", {}, element.text ?? "");
  }
  const style = element.style || {};
  if (style.code) node = h("code", {}, node);
  if (style.bold) node = h("b", {}, node);
  if (style.italic) node = h("i", {}, node);
  if (style.strike) node = h("s", {}, node);
  return node;
}

// ---- modal inputs -----------------------------------------------------------

function renderInputBlock(block, ctx) {
  const element = block.element || {};
  const error = ctx.errors?.[block.block_id];
  return h("div", { class: `block block-input ${error ? "has-error" : ""}`.trim(), dataset: { blockId: block.block_id ?? "" } },
    h("label", { class: "input-label" }, textSpan(block.label), block.optional ? h("span", { class: "muted" }, " (optional)") : null),
    renderInputElement(element, block, ctx),
    block.hint ? h("div", { class: "hint" }, textSpan(block.hint)) : null,
    error ? h("div", { class: "input-error" }, error) : null);
}

function optionsOf(element) {
  const options = [...(element.options || [])];
  for (const group of element.option_groups || []) options.push(...(group.options || []));
  return options;
}

function renderInputElement(element, block, ctx) {
  const dataset = { blockId: block.block_id ?? "", actionId: element.action_id ?? "", kind: element.type };
  const placeholder = element.placeholder?.text;
  let node;
  switch (element.type) {
    case "plain_text_input":
      node = element.multiline
        ? h("textarea", { class: "input", rows: 4, placeholder, dataset })
        : h("input", { class: "input", type: "text", placeholder, dataset });
      node.value = element.initial_value ?? "";
      return node;
    case "number_input":
    case "email_text_input":
    case "url_text_input":
      node = h("input", { class: "input", type: { number_input: "number", email_text_input: "email", url_text_input: "url" }[element.type], placeholder, dataset });
      node.value = element.initial_value ?? "";
      return node;
    case "datepicker":
      node = h("input", { class: "input", type: "date", dataset });
      node.value = element.initial_date ?? "";
      return node;
    case "static_select":
    case "multi_static_select": {
      const multiple = element.type === "multi_static_select";
      const options = optionsOf(element);
      const chosen = new Set([element.initial_option, ...(element.initial_options || [])].filter(Boolean).map((o) => o.value));
      node = h("select", { class: "input", multiple, dataset },
        multiple ? null : h("option", { value: "" }, placeholder || "Select an option"),
        options.map((o) => h("option", { value: o.value, selected: chosen.has(o.value), html: plainText(o.text) })));
      node.slackOptions = options;
      return node;
    }
    case "users_select":
    case "conversations_select":
    case "channels_select": {
      const choices = element.type === "users_select"
        ? ui.state.users.filter((u) => !u.is_bot).map((u) => [u.id, u.real_name])
        : ui.state.channels.map((c) => [c.id, "#" + c.name]);
      const initial = element.initial_user ?? element.initial_conversation ?? element.initial_channel ?? "";
      node = h("select", { class: "input", dataset },
        h("option", { value: "" }, placeholder || "Select"),
        choices.map(([value, label]) => h("option", { value, selected: value === initial }, label)));
      return node;
    }
    case "checkboxes":
    case "radio_buttons": {
      const options = optionsOf(element);
      const chosen = new Set([element.initial_option, ...(element.initial_options || [])].filter(Boolean).map((o) => o.value));
      const name = `${block.block_id}-${element.action_id}`;
      node = h("div", { class: "choices", dataset },
        options.map((o) => h("label", { class: "choice" },
          h("input", { type: element.type === "checkboxes" ? "checkbox" : "radio", name, value: o.value, checked: chosen.has(o.value) }),
          textSpan(o.text))));
      node.slackOptions = options;
      return node;
    }
    default:
      return unsupported(element);
  }
}

function collectValues(root) {
  const values = {};
  for (const node of root.querySelectorAll("[data-action-id][data-kind]")) {
    const { blockId, actionId, kind } = node.dataset;
    const find = (value) => (node.slackOptions || []).find((o) => o.value === value) || null;
    let entry;
    switch (kind) {
      case "static_select":
        entry = { type: kind, selected_option: find(node.value) };
        break;
      case "multi_static_select":
        entry = { type: kind, selected_options: [...node.selectedOptions].map((o) => find(o.value)).filter(Boolean) };
        break;
      case "checkboxes":
        entry = { type: kind, selected_options: [...node.querySelectorAll("input:checked")].map((i) => find(i.value)) };
        break;
      case "radio_buttons":
        entry = { type: kind, selected_option: find(node.querySelector("input:checked")?.value) };
        break;
      case "users_select":
        entry = { type: kind, selected_user: node.value || null };
        break;
      case "conversations_select":
        entry = { type: kind, selected_conversation: node.value || null };
        break;
      case "channels_select":
        entry = { type: kind, selected_channel: node.value || null };
        break;
      case "datepicker":
        entry = { type: kind, selected_date: node.value || null };
        break;
      default:
        entry = { type: kind, value: node.value === "" ? null : node.value };
    }
    (values[blockId] ||= {})[actionId] = entry;
  }
  return values;
}

// ---- dialogs, toasts ----------------------------------------------------------

function askConfirm(confirm) {
  return new Promise((resolve) => {
    const root = $("#confirm-root");
    const close = (answer) => { root.replaceChildren(); resolve(answer); };
    root.replaceChildren(h("div", { class: "backdrop" },
      h("div", { class: "dialog confirm", role: "dialog", "aria-modal": "true" },
        h("h2", {}, textSpan(confirm.title || { type: "plain_text", text: "Are you sure?" })),
        h("div", { class: "dialog-body" }, textSpan(confirm.text || { type: "plain_text", text: "" })),
        h("div", { class: "dialog-footer" },
          h("button", { type: "button", class: "btn", onclick: () => close(false) }, (confirm.deny || {}).text || "Cancel"),
          h("button", { type: "button", class: `btn ${confirm.style === "danger" ? "danger" : "primary"}`, onclick: () => close(true) },
            (confirm.confirm || {}).text || "Yes")))));
  });
}

let toastTimer = null;
function toast(message) {
  const node = $("#toast");
  node.textContent = message;
  node.classList.remove("hidden");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => node.classList.add("hidden"), 5000);
}

async function post(path, body) {
  try {
    const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const result = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
    if (!result.ok) toast(result.error || `The bot answered HTTP ${result.status}`);
    return result;
  } catch (error) {
    toast(`Request failed: ${error}`);
    return { ok: false };
  } finally {
    scheduleRefresh();
  }
}

// ---- messages -----------------------------------------------------------------

function initials(name) {
  const words = name.split(/\s+/).filter(Boolean);
  if (words.length === 1) return words[0].slice(0, 2).toUpperCase();
  return words.slice(0, 2).map((word) => word[0].toUpperCase()).join("") || "?";
}

function colorFor(id) {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 42%)`;
}

function formatTime(ts) {
  return new Date(parseFloat(ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderMessage(message, channel, { inThread = false } = {}) {
  const author = userById(message.user) || { id: message.user, real_name: message.user, is_bot: false };
  const ctx = {
    onButton: (element, block) => post("/ui/click", {
      user: ui.user, channel, message_ts: message.ts, action_id: element.action_id, block_id: block.block_id,
    }),
  };
  const content = message.blocks?.length ? renderBlocks(message.blocks, ctx) : h("div", { class: "message-text", html: mrkdwn(message.text) });
  const canReply = !inThread && !message.thread_ts && !message.ephemeral;
  return h("article", {
    class: `message ${message.ephemeral ? "ephemeral" : ""}`.trim(),
    dataset: { ts: message.ts, user: message.user },
  },
  h("div", { class: "avatar", style: `background:${author.is_bot ? "#1264a3" : colorFor(author.id)}` }, initials(author.real_name)),
  h("div", { class: "message-main" },
    h("div", { class: "message-meta" },
      h("span", { class: "author" }, author.real_name),
      author.is_bot ? h("span", { class: "app-badge" }, "APP") : null,
      h("span", { class: "time", title: message.ts }, formatTime(message.ts)),
      message.edited ? h("span", { class: "edited" }, "(edited)") : null,
      message.ephemeral ? h("span", { class: "only-you" }, "Only visible to you") : null),
    content,
    message.files?.length ? h("div", { class: "files" }, message.files.map(renderFile)) : null,
    message.reactions?.length ? h("div", { class: "reactions" }, message.reactions.map((r) =>
      h("span", { class: "reaction", title: r.users.join(", ") }, `${EMOJI[r.name] ?? `:${r.name}:`} ${r.count}`))) : null,
    !inThread && message.reply_count > 0
      ? h("button", { type: "button", class: "replies", onclick: () => openThread(message.ts) },
        `${message.reply_count} ${message.reply_count === 1 ? "reply" : "replies"}`)
      : null),
  canReply ? h("button", { type: "button", class: "reply-action", title: "Reply in thread", onclick: () => openThread(message.ts) }, "💬") : null);
}

function renderFile(file) {
  // An uploaded file (files.uploadV2): images show inline with their alt text, anything else as a link.
  if (file.mimetype?.startsWith("image/")) {
    return h("figure", { class: "file", dataset: { fileId: file.id } },
      h("img", { src: file.url_private, alt: file.alt_txt || file.title || file.name, title: file.alt_txt || "", loading: "lazy" }),
      h("figcaption", {}, file.title || file.name));
  }
  return h("div", { class: "file", dataset: { fileId: file.id } }, h("a", { href: file.url_private, target: "_blank" }, file.title || file.name));
}

function fillMessages(container, messages, channel, options) {
  const nearBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 80;
  if (!messages.length) {
    container.replaceChildren(h("div", { class: "empty" }, "No messages yet."));
  } else {
    container.replaceChildren(...messages.map((m) => renderMessage(m, channel, options)));
  }
  if (nearBottom || container.dataset.scrolled !== "yes") {
    container.scrollTop = container.scrollHeight;
    container.dataset.scrolled = "yes";
  }
}

function byTs(a, b) {
  return parseFloat(a.ts) - parseFloat(b.ts);
}

// ---- screens ------------------------------------------------------------------

function currentChannel() {
  if (ui.target === "home") return null;
  if (ui.target === "dm") return ui.state?.dm_channel;
  return ui.target;
}

function renderSidebar(state) {
  $("#team-name").textContent = state.team.name;
  const select = $("#user-select");
  const people = state.users.filter((u) => !u.is_bot);
  if (select.options.length !== people.length) {
    select.replaceChildren(...people.map((u) => h("option", { value: u.id }, `${u.real_name} (${u.id})`)));
  }
  select.value = ui.user;
  $("#channel-list").replaceChildren(...state.channels.map((c) =>
    h("li", {}, h("button", {
      type: "button",
      class: `nav-item ${ui.target === c.id ? "active" : ""}`.trim(),
      dataset: { channel: c.id },
      onclick: () => navigate(c.id),
    }, h("span", { class: "nav-icon" }, "#"), c.name))));
  $("#nav-home").classList.toggle("active", ui.target === "home");
  $("#nav-dm").classList.toggle("active", ui.target === "dm");
  const warnings = state.warnings || [];
  $("#warning-count").textContent = warnings.length ? `⚠️ ${warnings.length}` : "";
  $("#warnings").replaceChildren(...warnings.map((w) => h("li", { class: "warning" }, w)));
  $("#calls").replaceChildren(...[...state.calls].reverse().map((c) =>
    h("li", { class: c.ok ? "ok" : "failed" }, c.method, c.ok ? "" : ` → ${c.error}`)));
}

function renderMain(state) {
  const channel = currentChannel();
  const isHome = ui.target === "home";
  const channelInfo = channelById(channel);
  $("#main-title").textContent = isHome ? "OpsPilot — Home" : ui.target === "dm" ? "OpsPilot" : `# ${channelInfo ? channelInfo.name : channel}`;
  $("#bot-url").textContent = state.bot_url ? `bot: ${state.bot_url}` : "no bot connected";
  $("#messages").classList.toggle("hidden", isHome);
  $("#composer").classList.toggle("hidden", isHome);
  $("#home").classList.toggle("hidden", !isHome);
  $("#composer-input").placeholder = isHome ? "" : `Message ${ui.target === "dm" ? "OpsPilot" : "#" + (channelInfo?.name ?? "")} — start with / for a command, @OpsPilot to mention`;
  if (isHome) {
    renderHome(state);
    return;
  }
  const timeline = [...state.messages, ...state.ephemerals.filter((m) => !m.thread_ts)].sort(byTs);
  fillMessages($("#messages"), timeline, channel);
}

function renderHome(state) {
  const home = state.home;
  const root = $("#home");
  if (!home) {
    root.replaceChildren(h("div", { class: "empty" }, "OpsPilot has not published a Home tab for you yet."));
    return;
  }
  const ctx = { onButton: (element, block) => post("/ui/view_click", { user: ui.user, view_id: home.id, action_id: element.action_id, block_id: block.block_id }) };
  root.replaceChildren(renderBlocks(home.blocks, ctx));
}

function renderThread(state) {
  const pane = $("#thread");
  if (!ui.thread || !state.thread) {
    pane.classList.add("hidden");
    return;
  }
  pane.classList.remove("hidden");
  const channel = currentChannel();
  const info = channelById(channel);
  $("#thread-channel").textContent = info ? `#${info.name}` : "";
  const replies = [...state.thread.replies, ...state.ephemerals.filter((m) => m.thread_ts === ui.thread)].sort(byTs);
  const container = $("#thread-messages");
  fillMessages(container, [state.thread.parent, ...replies], channel, { inThread: true });
  const count = state.thread.replies.length;
  const divider = h("div", { class: "thread-divider" }, `${count} ${count === 1 ? "reply" : "replies"}`);
  container.firstElementChild?.after(divider);
}

// Errors arrive for the view the person is typing in: mark the inputs, keep what they typed.
function showInputErrors(root, errors) {
  for (const block of root.querySelectorAll(".block-input")) {
    const message = errors?.[block.dataset.blockId];
    block.classList.toggle("has-error", Boolean(message));
    block.querySelector(".input-error")?.remove();
    if (message) block.append(h("div", { class: "input-error" }, message));
  }
}

function renderModal(state) {
  const root = $("#modal-root");
  const modal = state.modal;
  const key = modal ? `${modal.view.id}:${modal.view.hash}` : null;
  if (key === ui.modalKey) {
    if (modal) showInputErrors(root, modal.errors);
    return;
  }
  ui.modalKey = key;
  if (!modal) {
    root.replaceChildren();
    return;
  }
  const view = modal.view;
  const ctx = {
    errors: modal.errors,
    onButton: (element, block) => post("/ui/view_click", { user: ui.user, view_id: view.id, action_id: element.action_id, block_id: block.block_id }),
  };
  const body = h("div", { class: "dialog-body" }, renderBlocks(view.blocks, ctx));
  const close = () => post("/ui/view_close", { user: ui.user, view_id: view.id });
  const submit = (event) => {
    event.preventDefault();
    post("/ui/view_submit", { user: ui.user, view_id: view.id, values: collectValues(body) });
  };
  root.replaceChildren(h("div", { class: "backdrop" },
    h("form", { class: "dialog modal", role: "dialog", "aria-modal": "true", "data-view-id": view.id, onsubmit: submit },
      h("header", { class: "dialog-header" },
        h("h2", {}, textSpan(view.title)),
        h("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: close }, "✕")),
      body,
      h("footer", { class: "dialog-footer" },
        h("button", { type: "button", class: "btn", onclick: close }, view.close?.text || "Cancel"),
        view.submit ? h("button", { type: "submit", class: "btn primary" }, view.submit.text) : null))));
}

function render() {
  const state = ui.state;
  if (!state) return;
  renderSidebar(state);
  renderMain(state);
  renderThread(state);
  renderModal(state);
}

// ---- data flow ----------------------------------------------------------------

async function refresh() {
  if (ui.loading) {
    ui.again = true;
    return;
  }
  ui.loading = true;
  try {
    do {
      ui.again = false;
      const query = new URLSearchParams({ user: ui.user, channel: ui.target === "home" ? "" : ui.target === "dm" ? `D${ui.user.slice(1)}` : ui.target });
      if (ui.thread) query.set("thread", ui.thread);
      const response = await fetch(`/ui/state?${query}`);
      ui.state = await response.json();
      render();
    } while (ui.again);
  } catch (error) {
    console.error(error);
  } finally {
    ui.loading = false;
  }
}

let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, 30);
}

function navigate(target) {
  ui.target = target;
  ui.thread = null;
  localStorage.setItem("playground.target", target);
  $("#messages").dataset.scrolled = "";
  if (target === "home") post("/ui/home", { user: ui.user });
  refresh();
}

function openThread(ts) {
  ui.thread = ts;
  $("#thread-messages").dataset.scrolled = "";
  refresh();
}

async function send(text, threadTs) {
  const channel = currentChannel();
  if (!text.trim() || !channel) return;
  if (text.startsWith("/") && !threadTs) {
    await post("/ui/command", { user: ui.user, channel, text });
  } else {
    await post("/ui/message", { user: ui.user, channel, text, thread_ts: threadTs || null });
  }
}

function wireComposer(form, input, threadTs) {
  const submit = () => {
    const text = input.value;
    input.value = "";
    send(text, threadTs());
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
}

function connectLive() {
  const indicator = $("#conn");
  const source = new EventSource("/events/stream");
  source.addEventListener("hello", () => {
    indicator.classList.add("live");
    scheduleRefresh();
  });
  source.addEventListener("change", scheduleRefresh);
  source.onerror = () => indicator.classList.remove("live");
}

function boot() {
  $("#user-select").addEventListener("change", (event) => {
    ui.user = event.target.value;
    localStorage.setItem("playground.user", ui.user);
    ui.modalKey = null;
    if (ui.target === "home") post("/ui/home", { user: ui.user });
    refresh();
  });
  $("#nav-home").addEventListener("click", () => navigate("home"));
  $("#nav-dm").addEventListener("click", () => navigate("dm"));
  $("#thread-close").addEventListener("click", () => {
    ui.thread = null;
    refresh();
  });
  wireComposer($("#composer"), $("#composer-input"), () => null);
  wireComposer($("#thread-composer"), $("#thread-input"), () => ui.thread);
  connectLive();
  if (ui.target === "home") post("/ui/home", { user: ui.user });
  refresh();
}

boot();
