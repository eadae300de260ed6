// The /browse/ page: a lightbox over the grid's images (Esc, a click outside the image or × close
// it; the arrow keys and buttons move), and a "Copy link" button per file with a message on the page.
(function () {
  "use strict";
  var message = document.getElementById("gallery-message");
  var dialog = document.getElementById("lightbox");
  var links = Array.prototype.slice.call(document.querySelectorAll("a[data-lightbox]"));
  var shown = -1;

  // Over the lightbox when it is open (the page's own message is behind it then).
  function say(text) {
    var where = dialog.open ? dialog.querySelector(".message") : message;
    where.textContent = text;
    where.hidden = false;
  }

  function show(index) {
    shown = (index + links.length) % links.length;
    var link = links[shown];
    var img = dialog.querySelector("img");
    img.src = link.getAttribute("href");
    img.alt = link.getAttribute("data-name");
    dialog.querySelector(".name").textContent = link.getAttribute("data-name");
    dialog.querySelector(".open").href = link.getAttribute("href");
    dialog.querySelector("[data-copy-link]").setAttribute("data-copy-link", link.getAttribute("data-link"));
    var single = links.length < 2;
    dialog.querySelector(".prev").hidden = single;
    dialog.querySelector(".next").hidden = single;
    if (!dialog.open) dialog.showModal();
  }

  function close() {
    if (dialog.open) dialog.close();
  }

  links.forEach(function (link, index) {
    link.addEventListener("click", function (event) {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      show(index);
    });
  });

  dialog.addEventListener("click", function (event) {
    if (event.target.closest(".prev")) return show(shown - 1);
    if (event.target.closest(".next")) return show(shown + 1);
    // Anything but the image and its caption: the backdrop, the empty space, the × button.
    if (event.target.closest(".close") || !event.target.closest("img, figcaption, .message")) close();
  });
  dialog.addEventListener("close", function () {
    dialog.querySelector("img").removeAttribute("src");
    dialog.querySelector(".message").hidden = true;
    shown = -1;
  });
  document.addEventListener("keydown", function (event) {
    if (!dialog.open) return;
    if (event.key === "ArrowLeft") { event.preventDefault(); show(shown - 1); }
    if (event.key === "ArrowRight") { event.preventDefault(); show(shown + 1); }
    // Esc: the dialog closes itself (and fires "close").
  });

  // The clipboard API needs a secure context (https, localhost); elsewhere a selected text area
  // and execCommand; when neither works, the message shows the link to copy by hand.
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallback(text); });
    }
    return Promise.resolve(fallback(text));
  }

  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    (dialog.open ? dialog : document.body).appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    area.remove();
    if (!done) throw new Error("copy refused");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-link]");
    if (!button) return;
    event.preventDefault();
    var link = button.getAttribute("data-copy-link");
    copy(link).then(
      function () { say("Link copied: " + link); },
      function () { say("Your browser did not let this page copy. The link: " + link); }
    );
  });
})();
