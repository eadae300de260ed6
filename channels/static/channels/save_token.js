// The callback page is sent with Referrer-Policy: no-referrer (its URL holds
// the sign-in code), and under that policy a plain form POST carries
// "Origin: null", which CSRF protection rightly refuses. This request asks
// for a same-origin policy of its own, so the Origin header names this site.
(function () {
  var form = document.getElementById("save-form");
  if (!form) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      referrerPolicy: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (response.ok) {
        return response.json().then(function (data) { window.location.assign(data.location); });
      } else {
        return response.text().then(function (html) {
          document.open(); document.write(html); document.close();
        });
      }
    }, function () {
      button.disabled = false;
      alert("The site could not be reached. Check the connection and press Save again.");
    });
  });
})();
