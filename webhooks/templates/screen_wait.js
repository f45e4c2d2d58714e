// The page of a browser that is not (or no longer) a class's screen: it asks this same URL for
// JSON every data-wait seconds; once staff have confirmed this browser (200), or the display
// has closed (another 403), it loads the page again, which then shows the check-in code (or
// says why not). It also loads again every data-renew seconds, for a fresh confirmation code
// before the one shown grows too old. Plain ES5 and XMLHttpRequest, like live_code.js.
(function () {
  var root = document.querySelector("[data-wait]");
  var every = parseInt(root.getAttribute("data-wait"), 10) * 1000;
  var renewAt = new Date().getTime() + parseInt(root.getAttribute("data-renew"), 10) * 1000;

  function waiting(xhr) {
    if (xhr.status !== 403) { return xhr.status !== 200; }
    try { return JSON.parse(xhr.responseText).code === "screen_not_confirmed"; } catch (e) {
      return false;
    }
  }
  function ask() {
    if (new Date().getTime() >= renewAt) { return location.reload(); }
    var xhr = new XMLHttpRequest();
    xhr.open("GET", location.href.split("#")[0]);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.timeout = 8000;
    xhr.onload = function () {
      if (waiting(xhr)) { setTimeout(ask, every); } else { location.reload(); }
    };
    xhr.onerror = function () { setTimeout(ask, every); };
    xhr.ontimeout = xhr.onerror;
    xhr.send();
  }
  setTimeout(ask, every);
})();
