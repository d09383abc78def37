#pragma once

#include <QColor>
#include <QList>
#include <QPointF>
#include <QWidget>

#include <memory>

class QLabel;

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
    // Replaces a line's points (x = Unix epoch ms). Bounded by the caller's range.
    void setPoints(int line, const QList<QPointF> &points);
    // The visible time window and the axis's label format ("HH:mm:ss", "HH:mm").
    void setWindow(qint64 fromMs, qint64 toMs, const QString &timeFormat);
    // The value shown beside the title ("412 MiB").
    void setCurrent(const QString &text);
    QString current() const;
    int pointCount(int line) const;
    // The colours the chart draws with: they follow the widget's palette (dark desktops).
    QColor backgroundColor() const;
    QColor labelColor() const;

protected:
    void changeEvent(QEvent *event) override;

private:
    struct Charts;
    void rescale();
    void applyPalette();

    QLabel *m_current;
    std::unique_ptr<Charts> m_charts;
};

} // namespace Ferry
