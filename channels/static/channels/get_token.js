// Get Token on the channel form, saved or not: post the form's Client ID,
// Client Secret, Tenant ID and cloud to the start view in a new tab. The
// secret travels in the POST body only; the server keeps it (encrypted) in
// the session while the sign-in runs.
document.addEventListener("click", function (event) {
  var button = event.target.closest("#get-token");
  if (!button) return;
  event.preventDefault();
  var page = button.closest("form");
  var form = document.createElement("form");
  form.method = "post";
  form.action = button.getAttribute("data-start-url");
  form.target = "_blank";
  form.style.display = "none";
  function add(name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value || "";
    form.appendChild(input);
  }
  function field(name) {
    var el = page.querySelector("[name='" + name + "']");
    return el ? el.value : "";
  }
  add("csrfmiddlewaretoken", field("csrfmiddlewaretoken"));
  add("client_id", field("client_id"));
  add("client_secret", field("client_secret"));
  add("tenant_id", field("tenant_id"));
  add("cloud", field("cloud"));
  add("channel_id", button.getAttribute("data-channel-id"));
  document.body.appendChild(form);
  form.submit();
  form.remove();
});
