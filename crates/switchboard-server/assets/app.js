// Progressive enhancement only: every page works without this file.
// htmx sends the CSRF token on its requests (see hx-headers on <body>); this file adds
// small conveniences that need no server round trip.
document.addEventListener("click", function (event) {
  var target = event.target.closest("[data-copy]");
  if (!target) return;
  var source = document.getElementById(target.getAttribute("data-copy"));
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.textContent.trim());
    target.textContent = "Copied";
  }
});
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-autosubmit]")) event.target.form.requestSubmit();
});
