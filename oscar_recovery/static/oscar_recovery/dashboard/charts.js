/* Charts of the recovery dashboard. Configuration comes from a json_script element, so the
 * page needs no inline script (CSP: script-src 'self'). */
(function () {
    "use strict";

    function draw() {
        var source = document.getElementById("recovery-chart-config");
        if (!source || typeof window.Chart === "undefined") {
            return;
        }
        var config = JSON.parse(source.textContent);
        var daily = document.getElementById("recovery-daily-chart");
        if (daily && config.daily) {
            new window.Chart(daily, {
                type: "line",
                data: {
                    labels: config.daily.labels,
                    datasets: [
                        {label: config.daily.abandonedLabel, data: config.daily.abandoned,
                         borderColor: "#dc3545", backgroundColor: "rgba(220,53,69,0.15)",
                         fill: true, cubicInterpolationMode: "monotone"},
                        {label: config.daily.recoveredLabel, data: config.daily.recovered,
                         borderColor: "#28a745", backgroundColor: "rgba(40,167,69,0.15)",
                         fill: true, cubicInterpolationMode: "monotone"}
                    ]
                },
                options: {responsive: true, animation: false, interaction: {mode: "index", intersect: false},
                          scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
            });
        }
        var funnel = document.getElementById("recovery-funnel-chart");
        if (funnel && config.funnel) {
            new window.Chart(funnel, {
                type: "bar",
                data: {
                    labels: config.funnel.labels,
                    datasets: [{label: config.funnel.reachedLabel, data: config.funnel.reached,
                                backgroundColor: "#007bff"}]
                },
                options: {indexAxis: "y", responsive: true, animation: false,
                          scales: {x: {beginAtZero: true, ticks: {precision: 0}}}}
            });
        }
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", draw);
    } else {
        draw();
    }
}());
