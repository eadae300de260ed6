// Copy buttons: <button data-copy="#element-id">. The clipboard API needs a
// secure context; selecting the text and execCommand covers plain http.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  event.preventDefault();
  var source = document.querySelector(button.getAttribute("data-copy"));
  var text = source.value !== undefined ? source.value : source.textContent;
  function done() {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { fallback(); });
  } else {
    fallback();
  }
  function fallback() {
    if (source.select) { source.select(); } else {
      var range = document.createRange(); range.selectNodeContents(source);
      var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    }
    document.execCommand("copy");
    done();
  }
});
