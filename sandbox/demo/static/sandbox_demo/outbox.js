// Sizes each email frame on the outbox page to the email's full height, as a mail client
// shows it. The frame is same-origin (its sandbox runs no script of its own).
(function () {
    "use strict";
    function fit(frame) {
        var doc = frame.contentDocument;
        if (!doc || !doc.documentElement) { return; }
        frame.style.height = Math.max(doc.documentElement.scrollHeight, doc.body ? doc.body.scrollHeight : 0) + 2 + "px";
    }
    document.querySelectorAll("iframe.outbox-email").forEach(function (frame) {
        frame.addEventListener("load", function () {
            fit(frame);
            // Images arriving late change the height.
            frame.contentDocument.querySelectorAll("img").forEach(function (img) {
                img.addEventListener("load", function () { fit(frame); });
            });
        });
        if (frame.contentDocument && frame.contentDocument.readyState === "complete") { fit(frame); }
    });
    window.addEventListener("resize", function () {
        document.querySelectorAll("iframe.outbox-email").forEach(fit);
    });
})();
