// Keeps a rotating code current, on the voucher card and on the class display: asks this same
// URL for JSON just after the code turns and at least every data-refresh seconds, swaps in a new
// drawing only when the code changed, shows what else the answer says (elements marked
// data-field: the voucher's status, the class's counts), and keeps the old code while the
// network is down (the server still accepts it for one more period). Plain ES5 and
// XMLHttpRequest, for the oldest WebView WeChat may run in and old tablets. The pages inline it
// and their CSP allows it by its hash (webhooks/pages.py).
(function () {
  function $(id) { return document.getElementById(id); }
  var root = document.querySelector("[data-refresh]");
  var texts = JSON.parse($("texts").textContent);
  var qr = $("qr"), countdown = $("countdown"), offline = $("offline"), noCode = $("no-code");
  var shown = root.getAttribute("data-code") || null;
  var left = parseInt(root.getAttribute("data-expires-in"), 10) || 0;
  var cap = parseInt(root.getAttribute("data-refresh"), 10);
  // The voucher card: any status but these is final, and nothing more is asked.
  var asksWhile = root.getAttribute("data-asks-while");
  // The class display: its link expires with its session, and a refusal means check-in closed
  // (or, said so, that this browser is no longer the class's screen).
  var endsWithLink = root.hasAttribute("data-ends-with-link");
  var RETRY = Math.min(10, cap), timer = null, busy = false, isOver = false;

  function done() {
    return isOver || (asksWhile !== null &&
                      asksWhile.split(" ").indexOf(root.getAttribute("data-status")) < 0);
  }
  function say(seconds) {
    countdown.textContent = texts.countdown.replace("{seconds}", seconds);
  }
  function tick() {
    if (shown && left > 0) { left -= 1; say(left); }
  }
  function later(seconds) {
    clearTimeout(timer);
    timer = setTimeout(refresh, seconds * 1000);
  }
  function next() {
    if (!done()) { later(shown ? Math.min(left + 1, cap) : cap); }  // just after the code turns
  }
  function withCode(code, words) {  // what shows only with a code, and what only without one
    var parts = root.querySelectorAll("[data-with-code], [data-without-code]");
    for (var i = 0; i < parts.length; i += 1) {
      parts[i].hidden = parts[i].hasAttribute("data-with-code") ? !code : !!code;
    }
    if (!code) { qr.innerHTML = ""; }
    if (words && noCode) { noCode.textContent = words; }
    shown = code;
  }
  function fill(data) {
    var fields = root.querySelectorAll("[data-field]");
    for (var i = 0; i < fields.length; i += 1) {
      var name = fields[i].getAttribute("data-field"), words = texts[name];
      fields[i].textContent = (words && words[data[name]]) || data[name];
    }
    if (data.status) { root.setAttribute("data-status", data.status); }  // the card's colour
  }
  function show(data) {
    fill(data);
    if (data.qr) {
      if (data.qr !== shown) { qr.innerHTML = data.svg; }
      left = data.expires_in;
      say(left);
    }
    // A display's code that went away: check-in closed.
    withCode(data.qr || null, !data.qr && shown ? texts.closed : null);
  }
  function over() {
    isOver = true;
    offline.hidden = true;
    withCode(null, texts.closed);
  }
  function failed() {
    busy = false;
    offline.hidden = false;  // the old code stays: it is still accepted a while
    later(RETRY);
  }
  function refusal(xhr) {  // the code of a JSON refusal, if it is one
    try { return JSON.parse(xhr.responseText).code; } catch (e) { return null; }
  }
  function refresh() {
    if (busy || isOver) { return; }
    busy = true;
    var xhr = new XMLHttpRequest();
    xhr.open("GET", location.href.split("#")[0]);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.timeout = 8000;
    xhr.onload = function () {
      var data;
      if (xhr.status === 403 && endsWithLink) {
        busy = false;
        // Staff confirmed another screen: this one loads the page that asks to confirm it.
        if (refusal(xhr) === "screen_not_confirmed") { return location.reload(); }
        return over();
      }
      if (xhr.status !== 200) { return failed(); }
      try { data = JSON.parse(xhr.responseText); } catch (e) { return failed(); }
      busy = false;
      offline.hidden = true;
      show(data);
      next();
    };
    xhr.onerror = failed;
    xhr.ontimeout = failed;
    xhr.send();
  }
  // A screen that slept shows a stale code: ask at once when the page is seen again, and keep
  // a display's screen awake where the browser allows it.
  function stayAwake() {
    if (root.hasAttribute("data-stay-awake") && navigator.wakeLock && !document.hidden) {
      navigator.wakeLock.request("screen").then(null, function () {});
    }
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { stayAwake(); if (!done()) { refresh(); } }
  });
  stayAwake();
  setInterval(tick, 1000);
  next();
})();
