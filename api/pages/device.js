// 3-D Secure 2 asks for the browser's time zone and screen; the page sends them with
// the card. Nothing else runs on this page.
(function () {
  var set = function (id, v) { var el = document.getElementById(id); if (el) { el.value = String(v); } };
  set("tz", new Date().getTimezoneOffset());
  set("sw", window.screen.width);
  set("sh", window.screen.height);
  set("cd", window.screen.colorDepth);
})();
