#include "ui/overview/metricchart.h"

#include <QDateTime>
#include <QEvent>
#include <QGraphicsLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>
#include <QtCharts/QChart>
#include <QtCharts/QChartView>
#include <QtCharts/QDateTimeAxis>
#include <QtCharts/QLegendMarker>
#include <QtCharts/QLineSeries>
#include <QtCharts/QValueAxis>

#include <algorithm>
#include <cmath>

namespace Ferry {

struct MetricChart::Charts
{
    // One line of the chart: Qt Charts has no break in a series, so a line with gaps is drawn
    // as several series with one pen; only the first has a legend entry.
    struct Line
    {
        QPen pen;
        QList<QLineSeries *> segments; // segments[0] always exists
    };
    QChart *chart = nullptr;
    QDateTimeAxis *time = nullptr;
    QValueAxis *values = nullptr;
    QList<Line> lines;
};

namespace {
// The smallest "nice" ceiling (1, 2, 2.5, 5 x 10^n) at or above value, so axis labels stay round.
double niceCeiling(double value)
{
    if (value <= 0)
        return 1;
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (const double step : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        if (step * magnitude >= value)
            return step * magnitude;
    }
    return 10 * magnitude;
}

// Where ascending points split into runs with no gap: the indexes where a new run starts.
QList<qsizetype> runStarts(const QList<QPointF> &points)
{
    QList<qsizetype> starts{0};
    if (points.size() < 3)
        return starts;
    QList<double> steps;
    steps.reserve(points.size() - 1);
    for (qsizetype i = 1; i < points.size(); ++i)
        steps.append(points.at(i).x() - points.at(i - 1).x());
    QList<double> sorted = steps;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    const double gap = qMax(3 * sorted.at(sorted.size() / 2), 2'500.0);
    for (qsizetype i = 0; i < steps.size(); ++i) {
        if (steps.at(i) > gap)
            starts.append(i + 1);
    }
    return starts;
}
} // namespace

MetricChart::MetricChart(const QString &title, const QString &unit, QWidget *parent)
    : QWidget(parent), m_charts(std::make_unique<Charts>())
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->setSpacing(0);
    auto *header = new QHBoxLayout;
    auto *titleLabel = new QLabel(QStringLiteral("<b>%1</b>").arg(title.toHtmlEscaped()), this);
    header->addWidget(titleLabel);
    header->addStretch();
    m_current = new QLabel(QStringLiteral("–"), this);
    m_current->setObjectName(QStringLiteral("current"));
    QFont big = m_current->font();
    big.setPointSizeF(big.pointSizeF() * 1.2);
    big.setBold(true);
    m_current->setFont(big);
    header->addWidget(m_current);
    layout->addLayout(header);

    auto *chart = new QChart;
    m_charts->chart = chart;
    chart->legend()->hide();
    chart->legend()->setAlignment(Qt::AlignTop);
    chart->setMargins(QMargins(2, 2, 2, 2));
    chart->layout()->setContentsMargins(0, 0, 0, 0);
    chart->setBackgroundRoundness(0);
    m_charts->time = new QDateTimeAxis;
    m_charts->time->setTickCount(5);
    m_charts->time->setFormat(QStringLiteral("HH:mm:ss"));
    m_charts->values = new QValueAxis;
    m_charts->values->setTitleText(unit);
    m_charts->values->setLabelFormat(QStringLiteral("%.0f"));
    m_charts->values->setTickCount(3);
    m_charts->values->setRange(0, 1);
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.8);
    m_charts->time->setLabelsFont(small);
    m_charts->values->setLabelsFont(small);
    m_charts->values->setTitleFont(small);
    chart->legend()->setFont(small);
    chart->addAxis(m_charts->time, Qt::AlignBottom);
    chart->addAxis(m_charts->values, Qt::AlignLeft);

    auto *view = new QChartView(chart, this);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumHeight(130);
    layout->addWidget(view, 1);
    applyPalette();
    setWindow(QDateTime::currentMSecsSinceEpoch() - 60'000, QDateTime::currentMSecsSinceEpoch(),
              QStringLiteral("HH:mm:ss"));
}

MetricChart::~MetricChart() = default;

// Qt Charts draws with its own light theme whatever the desktop says; the chart takes the
// widget palette's colours instead, so a dark desktop gets a dark chart with legible labels.
void MetricChart::applyPalette()
{
    const QPalette p = palette();
    QChart *chart = m_charts->chart;
    chart->setBackgroundBrush(p.brush(QPalette::Base));
    chart->setBackgroundPen(Qt::NoPen);
    chart->setPlotAreaBackgroundVisible(false);
    chart->setTitleBrush(p.brush(QPalette::Text));
    chart->legend()->setLabelColor(p.color(QPalette::Text));
    QColor grid = p.color(QPalette::Text);
    grid.setAlphaF(0.15);
    for (QAbstractAxis *axis : {static_cast<QAbstractAxis *>(m_charts->time),
                                static_cast<QAbstractAxis *>(m_charts->values)}) {
        axis->setLabelsBrush(p.brush(QPalette::Text));
        axis->setTitleBrush(p.brush(QPalette::Text));
        axis->setLinePenColor(p.color(QPalette::Mid));
        axis->setGridLineColor(grid);
    }
}

QColor MetricChart::backgroundColor() const
{
    return m_charts->chart->backgroundBrush().color();
}

QColor MetricChart::labelColor() const
{
    return m_charts->values->labelsBrush().color();
}

void MetricChart::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::PaletteChange)
        applyPalette();
    QWidget::changeEvent(event);
}

int MetricChart::addLine(const QString &name, const QColor &color, bool dashed)
{
    QPen pen(color);
    pen.setWidthF(1.5);
    if (dashed)
        pen.setStyle(Qt::DashLine);
    Charts::Line line{pen, {}};
    line.segments.append(addSegment(pen));
    line.segments.constFirst()->setName(name);
    m_charts->lines.append(line);
    if (m_charts->lines.size() > 1)
        m_charts->chart->legend()->show();
    return int(m_charts->lines.size() - 1);
}

QLineSeries *MetricChart::addSegment(const QPen &pen)
{
    auto *segment = new QLineSeries;
    segment->setPen(pen);
    m_charts->chart->addSeries(segment);
    segment->attachAxis(m_charts->time);
    segment->attachAxis(m_charts->values);
    return segment;
}

void MetricChart::setPoints(int line, const QList<QPointF> &points)
{
    Charts::Line &target = m_charts->lines[line];
    const QList<qsizetype> starts = runStarts(points);
    while (target.segments.size() < starts.size()) {
        QLineSeries *segment = addSegment(target.pen);
        for (QLegendMarker *marker : m_charts->chart->legend()->markers(segment))
            marker->setVisible(false);
        target.segments.append(segment);
    }
    for (qsizetype i = 0; i < target.segments.size(); ++i) {
        if (i >= starts.size()) {
            target.segments.at(i)->clear(); // kept for the next gap
            continue;
        }
        const qsizetype end = i + 1 < starts.size() ? starts.at(i + 1) : points.size();
        target.segments.at(i)->replace(points.mid(starts.at(i), end - starts.at(i)));
    }
    rescale();
}

void MetricChart::setWindow(qint64 fromMs, qint64 toMs, const QString &timeFormat)
{
    m_charts->time->setFormat(timeFormat);
    m_charts->time->setRange(QDateTime::fromMSecsSinceEpoch(fromMs),
                             QDateTime::fromMSecsSinceEpoch(toMs));
}

void MetricChart::setCurrent(const QString &text)
{
    m_current->setText(text);
}

QString MetricChart::current() const
{
    return m_current->text();
}

int MetricChart::pointCount(int line) const
{
    int count = 0;
    for (const QLineSeries *segment : m_charts->lines.at(line).segments)
        count += int(segment->count());
    return count;
}

int MetricChart::segmentCount(int line) const
{
    int count = 0;
    for (const QLineSeries *segment : m_charts->lines.at(line).segments)
        count += segment->count() > 0 ? 1 : 0;
    return count;
}

void MetricChart::rescale()
{
    double highest = 0;
    for (const Charts::Line &line : std::as_const(m_charts->lines)) {
        for (const QLineSeries *segment : line.segments) {
            const QList<QPointF> points = segment->points();
            for (const QPointF &point : points)
                highest = qMax(highest, point.y());
        }
    }
    const double top = niceCeiling(highest * 1.1);
    m_charts->values->setRange(0, top);
    m_charts->values->setLabelFormat(top < 5 ? QStringLiteral("%.1f") : QStringLiteral("%.0f"));
}

} // namespace Ferry
