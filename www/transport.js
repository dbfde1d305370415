// Play / pause / step through the decode's steps. The shown step belongs to the page (it also
// follows the live decode); the transport moves it and says so through `show(step)`.
//   button: the play button; stepsDecoded(): steps decoded so far (0: no run);
//   finished(): whether the decode is complete; cur(): the shown step; show(step): show it;
//   msPerStep(): the playback speed.
export function createTransport({ button, stepsDecoded, finished, cur, show, msPerStep }) {
  let timer = null;
  let playing = false;
  function stop() {
    playing = false;
    clearInterval(timer);
    button.classList.remove('playing');
    button.setAttribute('aria-label', 'Play');
  }
  function play() {
    if (stepsDecoded() == null) return;
    playing = true;
    button.classList.add('playing');
    button.setAttribute('aria-label', 'Pause');
    show(cur() >= stepsDecoded() ? 0 : cur());
    clearInterval(timer);
    timer = setInterval(() => {
      const n = stepsDecoded();
      if (n == null) return stop();
      if (cur() >= n) {
        if (finished()) stop();
        return; // else wait for the live decode
      }
      show(cur() + 1);
    }, msPerStep());
  }
  // One step back or forward (within the decoded steps); stops playback.
  function step(delta) {
    stop();
    show(Math.max(0, Math.min(stepsDecoded() || 0, cur() + delta)));
  }
  // Jumps to a step (the scrubber); stops playback.
  function seek(to) {
    stop();
    show(Math.min(to, stepsDecoded() || 0));
  }
  return { play, stop, step, seek, toggle: () => (playing ? stop() : play()), get playing() { return playing; } };
}
