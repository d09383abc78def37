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
#include <QtCharts/QLineSeries>
#include <QtCharts/QValueAxis>

#include <cmath>

namespace Ferry {

struct MetricChart::Charts
{
    QChart *chart = nullptr;
    QDateTimeAxis *time = nullptr;
    QValueAxis *values = nullptr;
    QList<QLineSeries *> lines;
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
    auto *line = new QLineSeries;
    line->setName(name);
    QPen pen(color);
    pen.setWidthF(1.5);
    if (dashed)
        pen.setStyle(Qt::DashLine);
    line->setPen(pen);
    m_charts->chart->addSeries(line);
    line->attachAxis(m_charts->time);
    line->attachAxis(m_charts->values);
    m_charts->lines.append(line);
    if (m_charts->lines.size() > 1)
        m_charts->chart->legend()->show();
    return int(m_charts->lines.size() - 1);
}

void MetricChart::setPoints(int line, const QList<QPointF> &points)
{
    m_charts->lines.at(line)->replace(points);
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
    return int(m_charts->lines.at(line)->count());
}

void MetricChart::rescale()
{
    double highest = 0;
    for (const QLineSeries *line : std::as_const(m_charts->lines)) {
        const QList<QPointF> points = line->points();
        for (const QPointF &point : points)
            highest = qMax(highest, point.y());
    }
    const double top = niceCeiling(highest * 1.1);
    m_charts->values->setRange(0, top);
    m_charts->values->setLabelFormat(top < 5 ? QStringLiteral("%.1f") : QStringLiteral("%.0f"));
}

} // namespace Ferry
