// The keypad page: each button sends the try and swaps in the call as the server made it
// again, then plays the prompts the IVR said since, in order. Without this script the
// form posts and the whole page comes back.
"use strict";

(function () {
  const form = document.getElementById("keypad-form");
  const call = document.getElementById("call");
  const voice = document.getElementById("voice");
  if (!form || !call || !voice) return;
  let queue = [];
  let playing = 0;
  // What was heard: each recording played to its end ({url, seconds}), in order, and the
  // ones that would not load or play. The next one starts only when one of them is known.
  window.keypadHeard = [];
  window.keypadFailed = [];

  function playNext() {
    const url = queue.shift();
    const turn = ++playing;
    if (!url) return;
    // a recording that fails says so twice (its error, and the play() refused): once counts
    const failed = () => {
      if (turn !== playing) return;
      window.keypadFailed.push(url);
      playNext();
    };
    voice.onended = () => {
      if (turn !== playing) return;
      window.keypadHeard.push({ url: url, seconds: voice.duration });
      playNext();
    };
    voice.onerror = failed;
    voice.src = url;
    voice.play().catch(failed);
  }

  function play(urls) {
    voice.pause();
    queue = urls.slice();
    playNext();
  }

  function turns() {
    return call.querySelectorAll("#transcript > li.turn");
  }

  call.addEventListener("click", (event) => {
    const button = event.target.closest("button.replay");
    if (button) play([button.dataset.audio]);
  });

  form.addEventListener("submit", async (event) => {
    const submitter = event.submitter;
    if (submitter && submitter.getAttribute("formaction")) return; // keeping: a whole page
    event.preventDefault();
    const before = submitter && submitter.value === "again" ? 0 : turns().length;
    const body = new URLSearchParams(new FormData(form, submitter));
    form.classList.add("busy");
    try {
      const answer = await fetch("/keypad?part=call", {
        method: "POST",
        body: body,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        credentials: "same-origin",
      });
      if (!answer.ok) {
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        const problem = document.createElement("p");
        problem.className = "problem";
        problem.id = "problem";
        const title = page.getElementById("error-title");
        const detail = page.getElementById("error-detail");
        problem.textContent = [title, detail].filter(Boolean).map((e) => e.textContent).join(": ")
          || `The console answered ${answer.status}.`;
        call.prepend(problem);
        return;
      }
      call.innerHTML = await answer.text();
      form.dataset.steps = String(Number(form.dataset.steps || 0) + 1);
      form.elements.keys.value = "";
      const said = Array.from(turns()).slice(before).filter((li) => li.classList.contains("ivr"));
      play(said.flatMap((li) => Array.from(li.querySelectorAll("[data-audio]"))
        .filter((part) => part.classList.contains("part"))
        .map((part) => part.dataset.audio)));
    } finally {
      form.classList.remove("busy");
    }
  });

  form.dataset.ready = "1";
})();
