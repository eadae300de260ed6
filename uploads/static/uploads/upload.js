// The upload page: drop, paste or pick files; each is POSTed to /upload with
// its own progress bar, then shows its links. Errors are shown per file.
(function () {
  var CODE_KEY = "imgbed.authCode";
  var codeInput = document.getElementById("auth-code");
  var pageMessage = document.getElementById("page-message");

  // The note beside the code says "remembered" only while a code is stored,
  // and a code is stored only once the site has accepted it.
  function showRemembered() {
    var kept = !!localStorage.getItem(CODE_KEY);
    document.getElementById("code-new").hidden = kept;
    document.getElementById("code-kept").hidden = !kept;
  }
  function remember(code) { localStorage.setItem(CODE_KEY, code); showRemembered(); }
  function forget() { localStorage.removeItem(CODE_KEY); showRemembered(); }

  if (codeInput) {
    codeInput.value = localStorage.getItem(CODE_KEY) || "";
    showRemembered();
    codeInput.addEventListener("input", function () { pageMessage.textContent = ""; });
    document.getElementById("forget-code").addEventListener("click", function (e) {
      e.preventDefault(); forget(); codeInput.value = "";
    });
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function links(url, name) {
    return {
      url: url,
      markdown: "![" + name + "](" + url + ")",
      html: '<img src="' + escapeHtml(url) + '" alt="' + escapeHtml(name) + '">',
      bbcode: "[img]" + url + "[/img]",
    };
  }

  function message(xhr) {
    try { return JSON.parse(xhr.responseText).error || ("HTTP " + xhr.status); }
    catch (e) { return xhr.status ? "The server answered " + xhr.status + "." : "The site could not be reached."; }
  }

  function send(file) {
    var item = document.getElementById("result-template").content.firstElementChild.cloneNode(true);
    item.querySelector(".file-name").textContent = file.name || "pasted image";
    var bar = item.querySelector("progress");
    var status = item.querySelector(".status");
    var error = item.querySelector(".error");
    document.getElementById("results").prepend(item);

    var params = new URLSearchParams({ returnFormat: "full" });
    var folder = document.getElementById("folder").value.trim();
    if (folder) params.set("uploadFolder", folder);
    params.set("uploadNameType", document.getElementById("name-type").value);
    var body = new FormData();
    body.append("file", file, file.name || "pasted.png");

    var xhr = new XMLHttpRequest();
    var code = codeInput ? codeInput.value : "";
    xhr.open("POST", "/upload?" + params.toString());
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    if (code) xhr.setRequestHeader("authCode", code);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); status.textContent = bar.value + "%"; }
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 200) {
        var src = JSON.parse(xhr.responseText)[0].src;
        bar.value = 100; status.textContent = "uploaded";
        var all = links(src, file.name || "image");
        item.querySelectorAll(".link-row").forEach(function (row) {
          row.querySelector("input").value = all[row.getAttribute("data-format")];
        });
        item.querySelector(".links").hidden = false;
        item.classList.add("done");
        if (code) remember(code);
      } else {
        fail(message(xhr));
        if (xhr.status === 401 && codeInput) { forget(); codeInput.focus(); }
      }
    });
    xhr.addEventListener("error", function () { fail("The site could not be reached. Check the connection and try again."); });
    xhr.send(body);

    function fail(text) {
      bar.hidden = true; status.textContent = "failed"; error.textContent = text; error.hidden = false;
      item.classList.add("failed");
    }
  }

  function sendAll(files) {
    if (codeInput && !codeInput.value) {
      // On the page, not a dialog: it stays readable while the code is typed.
      pageMessage.textContent = "Uploading here needs an auth code: enter it above, then add the files again.";
      codeInput.focus();
      return;
    }
    pageMessage.textContent = "";
    Array.prototype.forEach.call(files, send);
  }

  var zone = document.getElementById("drop-zone");
  zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
  zone.addEventListener("drop", function (e) {
    e.preventDefault(); zone.classList.remove("over"); sendAll(e.dataTransfer.files);
  });
  document.getElementById("file-input").addEventListener("change", function (e) { sendAll(e.target.files); e.target.value = ""; });
  document.addEventListener("paste", function (e) {
    var files = [];
    Array.prototype.forEach.call(e.clipboardData.items || [], function (it) {
      if (it.kind === "file") files.push(it.getAsFile());
    });
    if (files.length) sendAll(files);
  });
  document.getElementById("results").addEventListener("click", function (e) {
    if (e.target.tagName !== "BUTTON") return;
    var input = e.target.parentElement.querySelector("input");
    input.select();
    var done = function () { e.target.textContent = "Copied"; setTimeout(function () { e.target.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    else { document.execCommand("copy"); done(); }
  });
})();
