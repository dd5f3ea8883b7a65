// Render arithmatex's generic \( \) and \[ \] spans with the locally served KaTeX.
function renderMath() {
  document.querySelectorAll(".arithmatex").forEach((el) => {
    renderMathInElement(el, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(renderMath); // Material's instant navigation
} else {
  document.addEventListener("DOMContentLoaded", renderMath);
}
