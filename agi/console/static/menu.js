// The menu page: a click on a box of the picture (or a choice in the list) shows that
// node's prompts, with a player for each recording.
(function () {
  var choice = document.getElementById("node-choice");
  function show(name) {
    document.querySelectorAll(".node-details").forEach(function (section) {
      section.hidden = section.dataset.node !== name;
    });
    document.querySelectorAll("#picture g.node").forEach(function (box) {
      box.classList.toggle("selected", box.id === "node-" + name);
    });
    choice.value = name;
  }
  document.querySelectorAll("#picture g.node").forEach(function (box) {
    if (box.id.indexOf("node-") !== 0) { return; }
    box.addEventListener("click", function () { show(box.id.slice(5)); });
  });
  choice.addEventListener("change", function () { show(choice.value); });
})();
