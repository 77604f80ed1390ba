// The flow's text: a problem's line button puts the cursor on that line, and the line the
// cursor is on is shown under the text.
"use strict";

(function () {
  const text = document.getElementById("text");
  const where = document.getElementById("cursor-line");
  if (!text) return;

  function lineAt(position) {
    return text.value.slice(0, position).split("\n").length;
  }

  function show() {
    if (where) where.textContent = `line ${lineAt(text.selectionStart)}`;
  }

  function goTo(line) {
    const lines = text.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0);
    const end = start + (lines[line - 1] || "").length;
    text.focus();
    text.setSelectionRange(start, end);
    const height = text.scrollHeight / Math.max(lines.length, 1);
    text.scrollTop = Math.max(0, (line - 5) * height);
    show();
  }

  document.querySelectorAll("button.goto-line").forEach((button) => {
    button.addEventListener("click", () => goTo(Number(button.dataset.line)));
  });
  text.addEventListener("keyup", show);
  text.addEventListener("click", show);
  const first = document.querySelector("button.goto-line");
  if (first) goTo(Number(first.dataset.line));
})();
