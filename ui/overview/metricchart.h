#pragma once

#include <QColor>
#include <QList>
#include <QPointF>
#include <QWidget>

#include <memory>

class QLabel;
class QLineSeries;
class QPen;

namespace Ferry {

// One small live chart of the overview: a title, the current value, and one or more lines over
// a time axis. The Qt Charts types stay behind this class (Qt Charts is deprecated from Qt 6.10
// in favour of Qt Graphs), so the page does not depend on them.
class MetricChart final : public QWidget
{
    Q_OBJECT
public:
    MetricChart(const QString &title, const QString &unit, QWidget *parent = nullptr);
    ~MetricChart() override;
    Q_DISABLE_COPY_MOVE(MetricChart)

    // Adds a line; returns its index for setPoints().
    int addLine(const QString &name, const QColor &color, bool dashed = false);
    // Replaces a line's points (x = Unix epoch ms, ascending). Bounded by the caller's range.
    // Where the samples stop for a while (the engine was not running) the line breaks rather
    // than drawing a straight line across the gap: a gap is a step over 3 times the median
    // step (and over 2.5 s, so one-second samples that arrive a little late stay joined).
    void setPoints(int line, const QList<QPointF> &points);
    // The visible time window and the axis's label format ("HH:mm:ss", "HH:mm").
    void setWindow(qint64 fromMs, qint64 toMs, const QString &timeFormat);
    // The value shown beside the title ("412 MiB").
    void setCurrent(const QString &text);
    QString current() const;
    int pointCount(int line) const;
    // The pieces the line is drawn in: 1 without gaps (0 without points).
    int segmentCount(int line) const;
    // The colours the chart draws with: they follow the widget's palette (dark desktops).
    QColor backgroundColor() const;
    QColor labelColor() const;

protected:
    void changeEvent(QEvent *event) override;

private:
    struct Charts;
    void rescale();
    void applyPalette();
    // A new series on the chart's axes, drawn with pen.
    QLineSeries *addSegment(const QPen &pen);

    QLabel *m_current;
    std::unique_ptr<Charts> m_charts;
};

} // namespace Ferry
