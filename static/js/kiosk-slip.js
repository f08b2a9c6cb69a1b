// The shelf slip's print button (the browser's own print works without it).
const button = document.getElementById("slip-print");
if (button) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
