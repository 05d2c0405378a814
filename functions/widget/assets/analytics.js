/*
 * AgentHub analytics report (analytics.<hash>.js), served by the widget's distribution next to
 * analytics.html. No dependencies, no network but the page's own origin (CSP connect-src 'self').
 * Data from the API is only ever set as textContent or as SVG attributes (never as markup).
 * The API key comes from the form or from the fragment (#key=...&agent=...&from=...&to=...):
 * a fragment never reaches a server or a log, and the page removes the key from the address
 * bar as soon as it has read it. The key lives in this page's memory only.
 */
(function () {
    "use strict";
    var SVG_NS = "http://www.w3.org/2000/svg";
    var W = 640;
    var H = 220;
    var PAD = { top: 12, right: 12, bottom: 28, left: 44 };
    var state = { key: "", agent: "", from: "", to: "" };

    function $(id) {
        return document.getElementById(id);
    }

    function el(tag, attrs, text) {
        var node = document.createElement(tag);
        Object.keys(attrs || {}).forEach(function (name) {
            node.setAttribute(name, attrs[name]);
        });
        if (text !== undefined && text !== null) {
            node.textContent = String(text);
        }
        return node;
    }

    function svg(tag, attrs, text) {
        var node = document.createElementNS(SVG_NS, tag);
        Object.keys(attrs || {}).forEach(function (name) {
            node.setAttribute(name, String(attrs[name]));
        });
        if (text !== undefined && text !== null) {
            node.textContent = String(text);
        }
        return node;
    }

    function clear(node) {
        while (node.firstChild) {
            node.removeChild(node.firstChild);
        }
        return node;
    }

    // ------------------------------------------------------------------ formatting
    function number(value) {
        return new Intl.NumberFormat().format(value);
    }

    function percent(ratio) {
        if (ratio === null || ratio === undefined) {
            return "–";
        }
        return new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 }).format(ratio);
    }

    function money(minor, currency) {
        var code = currency.toUpperCase();
        var format;
        try {
            format = new Intl.NumberFormat(undefined, { style: "currency", currency: code });
        } catch (e) {
            return number(minor) + " " + code + " (minor units)";
        }
        var digits = format.resolvedOptions().maximumFractionDigits;
        return format.format(minor / Math.pow(10, digits));
    }

    // Millionths of a currency unit (model costs: fractions of a cent per conversation).
    function micros(value, currency, digits) {
        return new Intl.NumberFormat(undefined, {
            style: "currency",
            currency: currency.toUpperCase(),
            maximumFractionDigits: digits
        }).format(value / 1000000);
    }

    function revenue(byCurrency) {
        var codes = Object.keys(byCurrency || {}).sort();
        if (!codes.length) {
            return money(0, "usd");
        }
        return codes.map(function (code) {
            return money(byCurrency[code], code);
        }).join(" · ");
    }

    // ------------------------------------------------------------------ charts (inline SVG)
    function niceMax(value) {
        if (value <= 4) {
            return 4;
        }
        var step = Math.pow(10, Math.floor(Math.log10(value)));
        var candidates = [1, 2, 2.5, 5, 10];
        for (var i = 0; i < candidates.length; i += 1) {
            if (candidates[i] * step >= value) {
                return candidates[i] * step;
            }
        }
        return 10 * step;
    }

    function frame(card, title, series, days, max) {
        clear(card);
        card.appendChild(el("h2", {}, title));
        var legend = el("ul", { "class": "legend" });
        series.forEach(function (s, i) {
            var item = el("li", { "class": "s" + i }, s.label);
            legend.appendChild(item);
        });
        card.appendChild(legend);
        var summary = series.map(function (s) {
            return s.label + " " + number(days.reduce(function (sum, d) { return sum + s.value(d); }, 0));
        }).join(", ");
        var chart = svg("svg", {
            viewBox: "0 0 " + W + " " + H,
            role: "img",
            "aria-label": title + ": " + summary + " from " + state.from + " to " + state.to,
            "class": "chart"
        });
        var innerH = H - PAD.top - PAD.bottom;
        for (var g = 0; g <= 4; g += 1) {
            var y = PAD.top + innerH - (innerH * g) / 4;
            chart.appendChild(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, "class": "gridline" }));
            chart.appendChild(svg("text", { x: PAD.left - 6, y: y + 4, "class": "ylabel" }, number((max * g) / 4)));
        }
        var labelEvery = Math.max(1, Math.ceil(days.length / 7));
        days.forEach(function (d, i) {
            if (i % labelEvery === 0 || i === days.length - 1) {
                chart.appendChild(svg("text", { x: xAt(i, days.length), y: H - 8, "class": "xlabel" }, d.day.slice(5)));
            }
        });
        card.appendChild(chart);
        return chart;
    }

    function xAt(i, count) {
        var inner = W - PAD.left - PAD.right;
        return PAD.left + (count === 1 ? inner / 2 : (inner * (i + 0.5)) / count);
    }

    function yAt(value, max) {
        var inner = H - PAD.top - PAD.bottom;
        return PAD.top + inner - (inner * value) / max;
    }

    function point(node, d, s, value) {
        node.setAttribute("data-series", s.key);
        node.setAttribute("data-day", d.day);
        node.setAttribute("data-value", String(value));
        node.appendChild(svg("title", {}, d.day + " · " + s.label + ": " + number(value)));
        return node;
    }

    function lineChart(card, title, days, series) {
        var max = niceMax(Math.max.apply(null, days.map(function (d) {
            return Math.max.apply(null, series.map(function (s) { return s.value(d); }));
        })));
        var chart = frame(card, title, series, days, max);
        series.forEach(function (s, i) {
            var coords = days.map(function (d, j) {
                return xAt(j, days.length).toFixed(1) + "," + yAt(s.value(d), max).toFixed(1);
            });
            chart.appendChild(svg("polyline", { points: coords.join(" "), "class": "line s" + i }));
            days.forEach(function (d, j) {
                var dot = svg("circle", { cx: xAt(j, days.length), cy: yAt(s.value(d), max), r: 3.5, "class": "dot s" + i });
                chart.appendChild(point(dot, d, s, s.value(d)));
            });
        });
    }

    function stackedBars(card, title, days, series) {
        var max = niceMax(Math.max.apply(null, days.map(function (d) {
            return series.reduce(function (sum, s) { return sum + s.value(d); }, 0);
        })));
        var chart = frame(card, title, series, days, max);
        var slot = (W - PAD.left - PAD.right) / days.length;
        var width = Math.max(2, Math.min(28, slot * 0.7));
        days.forEach(function (d, j) {
            var base = 0;
            series.forEach(function (s, i) {
                var value = s.value(d);
                var top = yAt(base + value, max);
                var bar = svg("rect", {
                    x: (xAt(j, days.length) - width / 2).toFixed(1),
                    y: top.toFixed(1),
                    width: width.toFixed(1),
                    height: (yAt(base, max) - top).toFixed(1),
                    "class": "bar s" + i
                });
                chart.appendChild(point(bar, d, s, value));
                base += value;
            });
        });
    }

    // ------------------------------------------------------------------ the funnel
    var STAGES = [
        ["conversations", "Conversations", null],
        ["leads", "Leads", "lead"],
        ["bookings", "Bookings", "booking"],
        ["payments", "Payments", "payment"]
    ];

    function funnel(card, report) {
        clear(card);
        card.appendChild(el("h2", {}, "Conversion funnel"));
        var top = Math.max(1, report.funnel.conversations || 0);
        var rowH = 44;
        var chart = svg("svg", {
            viewBox: "0 0 " + W + " " + (STAGES.length * rowH),
            role: "img",
            "aria-label": STAGES.map(function (s) { return s[1] + " " + (report.funnel[s[0]] || 0); }).join(", "),
            "class": "chart funnel"
        });
        STAGES.forEach(function (stage, i) {
            var value = report.funnel[stage[0]] || 0;
            var width = Math.max(2, ((W - 220) * value) / top);
            var row = svg("g", { "class": "stage", "data-stage": stage[0], "data-value": value });
            row.appendChild(svg("rect", { x: 120 + (W - 220 - width) / 2, y: i * rowH + 6, width: width, height: rowH - 12, rx: 4, "class": "bar s" + i }));
            row.appendChild(svg("text", { x: 112, y: i * rowH + rowH / 2 + 5, "class": "stage-name" }, stage[1]));
            var share = stage[2] ? " (" + percent(report.conversion[stage[2]]) + ")" : "";
            row.appendChild(svg("text", { x: W - 92, y: i * rowH + rowH / 2 + 5, "class": "stage-value" }, number(value) + share));
            chart.appendChild(row);
        });
        card.appendChild(chart);
    }

    // ------------------------------------------------------------------ questions
    // rows: [{question, count, examples?}]; a group also lists its other wordings.
    function questions(card, title, rows, empty) {
        clear(card);
        card.appendChild(el("h2", {}, title));
        if (!rows.length) {
            card.appendChild(el("p", { "class": "muted" }, empty));
            return;
        }
        var list = el("ol", { "class": "questions" });
        rows.forEach(function (row) {
            var item = el("li", {});
            item.appendChild(el("span", { "class": "q" }, row.question));
            item.appendChild(el("span", { "class": "count" }, number(row.count)));
            var others = (row.examples || []).filter(function (e) { return e !== row.question; });
            if (others.length) {
                item.appendChild(el("small", { "class": "also" }, "also asked as: " + others.join(" · ")));
            }
            list.appendChild(item);
        });
        card.appendChild(list);
    }

    // ------------------------------------------------------------------ key figures
    function kpis(report) {
        var totals = report.totals;
        var tiles = [
            ["conversations", "Conversations", number(totals.conversations)],
            ["messages", "Messages", number(totals.messages)],
            ["answer_rate", "Answer rate", percent(report.answer_rate)],
            ["feedback_rate", "Feedback rate", percent(report.feedback_rate)],
            ["satisfaction", "Satisfaction", percent(report.satisfaction)],
            ["revenue", "Revenue", revenue(report.revenue_minor)]
        ];
        var cost = report.cost;
        tiles.push(["cost_per_conversation", "Model cost per conversation", cost.per_conversation_micros === null ? "–" : micros(cost.per_conversation_micros, cost.currency, 6)]);
        tiles.push(["cost", "Model cost", micros(cost.total_micros, cost.currency, 4), cost.unpriced_messages ? number(cost.unpriced_messages) + " answers by unpriced models" : "at configured prices"]);
        var box = clear($("kpis"));
        tiles.forEach(function (tile) {
            var card = el("div", { "class": "kpi", "data-kpi": tile[0] });
            card.appendChild(el("span", { "class": "label" }, tile[1]));
            card.appendChild(el("strong", {}, tile[2]));
            if (tile[3]) {
                card.appendChild(el("small", { "class": "note" }, tile[3]));
            }
            box.appendChild(card);
        });
    }

    // ------------------------------------------------------------------ loading
    function apiPath(kind) {
        var query = new URLSearchParams();
        if (state.from) {
            query.set("from", state.from);
        }
        if (state.to) {
            query.set("to", state.to);
        }
        return "/v1/analytics/agents/" + encodeURIComponent(state.agent) + "/" + kind + "?" + query.toString();
    }

    function call(kind) {
        return fetch(apiPath(kind), {
            headers: { Authorization: "Bearer " + state.key },
            credentials: "omit",
            referrerPolicy: "no-referrer"
        }).then(function (response) {
            if (response.ok) {
                return kind === "export" ? response.blob() : response.json();
            }
            return response.json().catch(function () { return {}; }).then(function (body) {
                var error = new Error((body.error && body.error.message) || "HTTP " + response.status);
                error.status = response.status;
                throw error;
            });
        });
    }

    function explain(error) {
        if (error.status === 401 || error.status === 403) {
            return "The API key was refused. Check that it is a secret key of this tenant (not a publishable widget key).";
        }
        if (error.status === 404) {
            return "This key's tenant has no agent " + state.agent + ".";
        }
        if (error.status === 400) {
            return "The request was refused: " + error.message;
        }
        if (error.status === 429) {
            return "Too many requests: try again in a moment.";
        }
        return "The report could not be loaded (" + error.message + ").";
    }

    function show(which) {
        $("results").hidden = which !== "results";
        $("empty").hidden = which !== "empty";
        $("error").hidden = which !== "error";
        document.body.setAttribute("data-state", which);
    }

    function render(series, report) {
        state.from = series.start;
        state.to = series.end;
        $("from").value = series.start;
        $("to").value = series.end;
        var quiet = series.days.every(function (d) {
            return Object.keys(d.counts).every(function (k) { return !d.counts[k]; });
        });
        if (quiet) {
            $("empty-text").textContent = "No activity for agent " + series.agent_id + " between " + series.start + " and " + series.end + " (" + series.time_zone + ").";
            show("empty");
            return;
        }
        $("range").textContent = series.start + " – " + series.end + " · " + series.time_zone + " · " + report.rolled_up_days + " rolled-up day(s)";
        kpis(report);
        var days = series.days;
        lineChart($("chart-traffic"), "Conversations and messages per day", days, [
            { key: "conversations", label: "Conversations", value: function (d) { return d.counts.conversations; } },
            { key: "messages", label: "Messages", value: function (d) { return d.counts.messages; } }
        ]);
        stackedBars($("chart-answers"), "Answered and abstained", days, [
            { key: "answered", label: "Answered", value: function (d) { return d.counts.answered; } },
            { key: "abstained", label: "Abstained", value: function (d) { return d.counts.abstained; } }
        ]);
        lineChart($("chart-outcomes"), "Leads, bookings and payments", days, [
            { key: "leads", label: "Leads", value: function (d) { return d.counts.leads; } },
            { key: "bookings", label: "Bookings", value: function (d) { return d.counts.bookings; } },
            { key: "payments", label: "Payments", value: function (d) { return d.counts.payments; } }
        ]);
        funnel($("funnel"), report);
        questions($("top"), "Top questions", report.top_questions, "No rolled-up questions in this range yet (the nightly job computes them).");
        questions($("unanswered"), "Unanswered questions", report.unanswered_questions, "No unanswered questions in the rolled-up days.");
        show("results");
    }

    function load() {
        state.key = $("key").value.trim();
        state.agent = $("agent").value.trim();
        state.from = $("from").value;
        state.to = $("to").value;
        if (!state.key || !state.agent) {
            return;
        }
        $("status").textContent = "Loading…";
        $("csv").disabled = true;
        Promise.all([call("series"), call("report")]).then(function (found) {
            $("status").textContent = "";
            $("csv").disabled = false;
            render(found[0], found[1]);
        }, function (error) {
            $("status").textContent = "";
            $("error").textContent = explain(error);
            show("error");
        });
    }

    function download() {
        call("export").then(function (blob) {
            var link = el("a", { href: URL.createObjectURL(blob), download: "agenthub-" + state.agent + "-" + state.from + "-" + state.to + ".csv" });
            document.body.appendChild(link);
            link.click();
            link.remove();
        }, function (error) {
            $("error").textContent = explain(error);
            $("error").hidden = false;
        });
    }

    function fromFragment() {
        var found = new URLSearchParams(location.hash.replace(/^#/, ""));
        ["key", "agent", "from", "to"].forEach(function (name) {
            if (found.get(name)) {
                $(name).value = found.get(name);
            }
        });
        if (found.has("key")) {
            found.delete("key");
            var rest = found.toString();
            history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
        }
    }

    function start() {
        fromFragment();
        $("ask").addEventListener("submit", function (event) {
            event.preventDefault();
            load();
        });
        $("csv").addEventListener("click", download);
        document.body.setAttribute("data-state", "ready");
        load();
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
}());
