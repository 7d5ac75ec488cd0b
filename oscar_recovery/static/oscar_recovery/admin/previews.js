// Staff previews in the admin, under a strict CSP (a static file, nothing inline):
// - every frame marked data-fit-height grows to its document's full height (the frames are
//   sandboxed without scripts, but same-origin, so this page can measure them);
// - the prompt form's live preview: the form is posted to the preview endpoint as staff
//   type, and the returned page (the prompt's own markup and prompts.css) fills the frame.
(function () {
    "use strict";

    function fit(frame) {
        var doc = frame.contentDocument;
        if (!doc || !doc.documentElement) { return; }
        var height = Math.max(doc.documentElement.scrollHeight, doc.body ? doc.body.scrollHeight : 0);
        frame.style.height = height + 2 + "px";
    }

    function watch(frame) {
        frame.addEventListener("load", function () {
            fit(frame);
            if (!frame.contentDocument) { return; }
            frame.contentDocument.querySelectorAll("img").forEach(function (img) {
                img.addEventListener("load", function () { fit(frame); });
            });
        });
        if (frame.contentDocument && frame.contentDocument.readyState === "complete") { fit(frame); }
    }

    function livePreview(frame) {
        var form = frame.closest("form");
        if (!form) { return; }
        var timer = null;
        var sent = 0;
        function refresh() {
            var data = new FormData(form);
            data.delete("image");  // the saved image is shown; no upload per keystroke
            var mine = ++sent;
            fetch(frame.dataset.previewUrl, {
                method: "POST",
                body: data,
                credentials: "same-origin",
                headers: { "X-Requested-With": "XMLHttpRequest" }
            }).then(function (response) {
                return response.ok ? response.text() : Promise.reject(response.status);
            }).then(function (html) {
                if (mine === sent) { frame.srcdoc = html; }  // only the latest answer
            }).catch(function () { /* keep the last preview */ });
        }
        function soon() {
            window.clearTimeout(timer);
            timer = window.setTimeout(refresh, 250);
        }
        form.addEventListener("input", soon);
        form.addEventListener("change", soon);
        refresh();
    }

    function start() {
        document.querySelectorAll("iframe[data-fit-height]").forEach(watch);
        document.querySelectorAll("iframe[data-preview-url]").forEach(livePreview);
        window.addEventListener("resize", function () {
            document.querySelectorAll("iframe[data-fit-height]").forEach(fit);
        });
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
