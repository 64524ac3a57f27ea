// findna's site opened as files (file://, e.g. _site/index.html after `make docs`): every page and figure works, but a
// browser runs no search worker for a file:// page, so the theme shows no search box; the header says how to get one.
document.addEventListener("DOMContentLoaded", function () {
  if (location.protocol !== "file:") return;
  var header = document.querySelector(".md-header__inner");
  if (!header || document.querySelector(".findna-offline-search")) return;
  var note = document.createElement("div");
  note.className = "findna-offline-search";
  note.title = "A browser runs no search for pages opened as files; serve the folder to get search.";
  note.style.cssText = "margin-left:auto;padding:0 .8rem;font-size:.62rem;opacity:.85;white-space:nowrap";
  note.innerHTML = "Search: serve the site — <code style='color:inherit;background:transparent'>" +
                   "python3 -m http.server -d _site 8000</code>";
  header.appendChild(note);
});
