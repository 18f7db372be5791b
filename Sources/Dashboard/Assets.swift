import Hummingbird

/// The dashboard's one style sheet, one script and its icon, compiled into the binary. Nothing
/// is loaded from anywhere else (`Content-Security-Policy: default-src 'self'`).
enum Assets {
    static func register(on router: Router<DashboardContext>) {
        for (path, type, body) in [
            ("/static/dashboard.css", "text/css; charset=utf-8", css),
            ("/static/dashboard.js", "text/javascript; charset=utf-8", javascript),
            ("/static/favicon.svg", "image/svg+xml", favicon),
            ("/favicon.ico", "image/svg+xml", favicon),
        ] {
            router.get(RouterPath(path)) { _, _ -> Response in
                Response(
                    status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=300"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
            }
        }
    }

    static let favicon = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f5fbf"/><rect x="3" y="4" width="10" height="7" rx="1" fill="#fff"/><rect x="6" y="12" width="4" height="1.5" fill="#fff"/></svg>
        """

    static let css = """
        :root { --fg: #1d2430; --muted: #5b6678; --line: #d8dee8; --bg: #f6f8fb; --card: #fff; --accent: #1f5fbf;
          --ok: #1d7a46; --bad: #b3261e; --warn: #8a5a00; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
        * { box-sizing: border-box; }
        body { margin: 0; color: var(--fg); background: var(--bg); font-size: 15px; line-height: 1.45; }
        a { color: var(--accent); }
        a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible {
          outline: 3px solid #8fb3ef; outline-offset: 1px; }
        header.top { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; background: #14233b; color: #fff; flex-wrap: wrap; }
        header.top a { color: #dce7fb; text-decoration: none; }
        header.top .brand { font-weight: 700; color: #fff; font-size: 1.1rem; }
        header.top nav { display: flex; gap: 1rem; flex: 1; }
        header.top nav a[aria-current="page"] { color: #fff; border-bottom: 2px solid #8fb3ef; }
        header.top .who { color: #b9c6dc; }
        header.top button.link { background: none; border: 1px solid #51627f; color: #dce7fb; }
        main { max-width: 1240px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
        h1 { font-size: 1.6rem; margin: .6rem 0 1rem; display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; }
        h2 { font-size: 1.15rem; margin: 1.6rem 0 .6rem; }
        section { margin-bottom: 1rem; }
        .columns { display: grid; grid-template-columns: minmax(0, 1.2fr) minmax(0, 1fr); gap: 2rem; }
        @media (max-width: 1000px) { .columns { grid-template-columns: 1fr; } }
        table.list { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); }
        table.list th, table.list td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        table.list th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); background: #eef2f8; }
        .badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; background: #e5e9f0; color: var(--fg); font-weight: 600; }
        .status-success, .status-connected { background: #dcf2e4; color: var(--ok); }
        .status-error, .status-task_failed, .status-disconnected { background: #fbe1df; color: var(--bad); }
        .status-running, .status-running_checks { background: #dde8fb; color: var(--accent); }
        .status-scheduling { background: #fdf0d5; color: var(--warn); }
        .status-cancelled { background: #ece9f5; color: #5b4a8a; }
        .empty { color: var(--muted); background: var(--card); border: 1px dashed var(--line); padding: .8rem 1rem; border-radius: 6px; }
        .muted { color: var(--muted); }
        .crumbs { margin: .5rem 0 0; color: var(--muted); }
        form.stack { display: flex; flex-direction: column; gap: .35rem; max-width: 46rem; }
        form.stack label { font-weight: 600; margin-top: .5rem; }
        form.stack label.check { font-weight: 400; }
        form.row, form.filters { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin: .6rem 0; }
        form.inline { display: inline; }
        input, select, textarea { font: inherit; padding: .4rem .5rem; border: 1px solid #b8c2d3; border-radius: 5px; background: #fff; color: var(--fg); }
        textarea { width: 100%; }
        textarea.code, pre, code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: .88rem; }
        button, a.button { font: inherit; padding: .4rem .9rem; border-radius: 5px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; font-size: .95rem; }
        button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
        fieldset { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .8rem; }
        label.check { display: block; }
        [aria-invalid="true"] { border-color: var(--bad); box-shadow: 0 0 0 1px var(--bad); }
        .field-error { color: var(--bad); margin: .1rem 0 .3rem; font-weight: 600; }
        pre { background: #0f1726; color: #e6edf7; padding: .7rem .9rem; border-radius: 6px; overflow: auto; max-height: 28rem; white-space: pre-wrap; word-break: break-word; }
        .sign-in { max-width: 28rem; margin: 4rem auto; background: var(--card); padding: 2rem; border: 1px solid var(--line); border-radius: 8px; }
        .sign-in form { display: flex; flex-direction: column; gap: .5rem; }
        .live-screen { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; background: #000; display: block; }
        img.shot { max-width: 100%; border: 1px solid var(--line); border-radius: 4px; margin-top: .4rem; }
        img.crop { max-width: 100%; border: 2px solid var(--accent); image-rendering: pixelated; }
        ol.history, ol.steps { padding-left: 0; list-style: none; }
        ol.history li, ol.steps li { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .5rem .8rem; margin-bottom: .5rem; }
        ol.steps h3 { font-size: 1rem; margin: .2rem 0; }
        dl.facts { display: grid; grid-template-columns: 9rem 1fr; gap: .3rem .8rem; margin: 0; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; }
        .actions { display: flex; gap: .5rem; flex-wrap: wrap; margin: .5rem 0; }
        .secret-once { background: #fff8e1; border: 1px solid #e8c66a; padding: .6rem 1rem; border-radius: 6px; }
        .secret-row { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; margin: .25rem 0; }
        .errors li { color: var(--bad); }
        nav.pages { display: flex; gap: 1rem; align-items: center; margin: .8rem 0; }
        ul.versions { list-style: none; padding: 0; }
        ul.counts { list-style: none; display: flex; gap: 1rem; padding: 0; }
        ul.counts a { text-decoration: none; color: var(--fg); }
        """

    /// Live parts only; every page works without it. Times become the viewer's local time
    /// with a relative age; a run page fetches its live part again every second until the run
    /// ends; a machine's screen is fetched again every second while the page is visible.
    static let javascript = """
        "use strict";
        (function () {
          function age(ms) {
            var s = Math.round(ms / 1000), future = s < 0; s = Math.abs(s);
            var text = s < 45 ? "just now" : s < 90 ? "1 min" : s < 3600 ? Math.round(s / 60) + " min"
              : s < 86400 ? Math.round(s / 3600) + " h" : Math.round(s / 86400) + " d";
            if (text === "just now") return text;
            return future ? "in " + text : text + " ago";
          }
          function formatTimes(root) {
            root.querySelectorAll("time[datetime]").forEach(function (el) {
              var when = new Date(el.getAttribute("datetime"));
              if (isNaN(when.getTime())) return;
              el.title = when.toString();
              el.textContent = when.toLocaleString() + " (" + age(Date.now() - when.getTime()) + ")";
            });
          }
          function followRun(container) {
            var url = container.getAttribute("data-live-url");
            function tick() {
              if (document.visibilityState !== "visible") { setTimeout(tick, 1000); return; }
              fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
                .then(function (response) { return response.ok ? response.text() : null; })
                .then(function (html) {
                  if (html === null) { setTimeout(tick, 2000); return; }
                  container.innerHTML = html;
                  formatTimes(container);
                  var head = container.querySelector("[data-final]");
                  if (head && head.getAttribute("data-final") === "1") { container.removeAttribute("data-live"); return; }
                  setTimeout(tick, 1000);
                })
                .catch(function () { setTimeout(tick, 2000); });
            }
            setTimeout(tick, 1000);
          }
          function liveScreen(img) {
            var base = img.getAttribute("data-live-src"), frames = 0, timer = null;
            function next() {
              timer = null;
              if (document.visibilityState !== "visible") return;
              var loader = new Image();
              loader.onload = function () {
                img.src = loader.src; frames += 1; img.setAttribute("data-frames", String(frames)); schedule();
              };
              loader.onerror = function () { schedule(); };
              loader.src = base + "?t=" + Date.now();
            }
            function schedule() { if (timer === null) timer = setTimeout(next, 1000); }
            document.addEventListener("visibilitychange", function () {
              if (document.visibilityState === "visible") schedule();
            });
            schedule();
          }
          document.addEventListener("submit", function (event) {
            var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
            if (message && !window.confirm(message)) event.preventDefault();
          });
          document.addEventListener("DOMContentLoaded", function () {
            formatTimes(document);
            var run = document.querySelector("#run-live[data-live]");
            if (run) followRun(run);
            document.querySelectorAll("img[data-live-src]").forEach(liveScreen);
          });
        })();
        """
}
