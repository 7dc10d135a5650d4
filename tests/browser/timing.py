"""Timing the tab inside the page, shared by `benchmarks/bench_frontend.py` and the speed test.

`RECORDER_JS` is installed in every frame before its scripts (`context.add_init_script`); the timing
scripts run in the plugin's iframe (`frame.evaluate(SCRIPT, [selector, values, event_name])`).
"""

# Per repetition, from a quiet task after a frame: dispatch the event (its handlers run: `sync`), then
# the next frame, from its first rAF callback to a message posted by a rAF callback registered after
# the app's (a message runs once the frame's style, layout and paint are done: `frame`). Idle time
# waiting for the frame is left out of `work` = sync + frame and kept in `latency`.
TIME_REPAINTS_JS = """async ([selector, values, eventName]) => {
  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
  const afterPaint = () => new Promise((resolve) => requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve(performance.now());
    channel.port2.postMessage(null);
  }));
  const control = selector ? document.querySelector(selector) : document.createElement('input');
  if (!control) throw new Error(`no element matches ${selector}`);
  const samples = [];
  for (const value of values) {
    await nextFrame();
    await nextTask();
    let frameStarted = NaN;
    requestAnimationFrame(() => { frameStarted = performance.now(); });
    const started = performance.now();
    control.value = String(value);
    control.dispatchEvent(new Event(eventName, {bubbles: true}));
    const dispatched = performance.now();
    const painted = await afterPaint();
    samples.push({sync: dispatched - started, frame: painted - frameStarted, latency: painted - started});
  }
  return samples;
}"""

# Installed in every frame before its scripts: records the app's render marks and the long tasks,
# and lets a timing script wait for the next render.
RECORDER_JS = """(() => {
  window.__tbmRenders = [];
  window.__tbmLongTasks = [];
  window.__tbmOnRender = null;
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (entry.name !== 'tbm-render') continue;
        window.__tbmRenders.push(entry.startTime);
        if (window.__tbmOnRender) window.__tbmOnRender(entry.startTime);
      }
    }).observe({type: 'mark', buffered: true});
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__tbmLongTasks.push([entry.startTime, entry.duration]);
    }).observe({type: 'longtask', buffered: true});
  } catch (error) { /* a frame without these entry types */ }
})();"""

# Per repetition: set the control and dispatch its event, wait for the render it causes (the app's
# `tbm-render` mark) and the frame painted after it. `render` = event → mark, `latency` = event →
# painted frame; `long_tasks` are those that started in between.
TIME_RENDERS_JS = """async ([selector, values, eventName]) => {
  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
  const afterPaint = () => new Promise((resolve) => requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve(performance.now());
    channel.port2.postMessage(null);
  }));
  const control = document.querySelector(selector);
  if (!control) throw new Error(`no element matches ${selector}`);
  const samples = [];
  for (const value of values) {
    await nextFrame();
    await nextTask();
    const rendered = new Promise((resolve, reject) => {
      window.__tbmOnRender = resolve;
      setTimeout(() => reject(new Error(`no render within 10 s after ${selector} = ${value}`)), 10000);
    });
    const started = performance.now();
    control.value = String(value);
    control.dispatchEvent(new Event(eventName, {bubbles: true}));
    const renderEnd = await rendered;
    window.__tbmOnRender = null;
    const painted = await afterPaint();
    const longTasks = window.__tbmLongTasks.filter(([start]) => start >= started && start <= painted);
    samples.push({render: renderEnd - started, latency: painted - started,
                  long_tasks: longTasks.map(([, duration]) => duration)});
  }
  return samples;
}"""
