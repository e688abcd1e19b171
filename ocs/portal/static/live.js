// Live balance: server-sent events from /me/live (the WatchBalance watcher of the server).
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var money = document.getElementById("money");
  if (!window.EventSource || !money) { return; }
  var source = new EventSource("/me/live");
  source.addEventListener("open", function () { status.textContent = "Live: balance updates as you use your phone."; });
  source.addEventListener("error", function () { status.textContent = "Live updates paused; reconnecting…"; });
  source.addEventListener("balance", function (event) {
    var data = JSON.parse(event.data);
    if (data.type === "snapshot") { status.dataset.ready = "1"; }
    money.textContent = data.money;
    Object.keys(data.buckets).forEach(function (id) {
      var row = document.querySelector('tr[data-bucket="' + CSS.escape(id) + '"] .left');
      if (row && row.dataset.unit === "octets") {
        row.textContent = (data.buckets[id].available / 1e6).toFixed(1) + " MB";
      } else if (row && row.dataset.unit === "seconds") {
        var s = data.buckets[id].available;
        row.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0") + " min";
      } else if (row) {
        row.textContent = String(data.buckets[id].available);
      }
    });
    if (data.threshold) { status.textContent = "Heads up: an allowance is running low."; }
  });
})();
