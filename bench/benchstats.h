#pragma once

#include <QList>

#include <algorithm>

// Order statistics the benchmarks report: medians across rounds, percentiles within one.
namespace Ferry::Bench {

inline double median(QList<double> values)
{
    std::sort(values.begin(), values.end());
    const auto n = values.size();
    return n == 0 ? 0 : (n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2);
}

inline double percentile(QList<double> values, double p)
{
    std::sort(values.begin(), values.end());
    if (values.isEmpty())
        return 0;
    return values[qMin(values.size() - 1, qsizetype(p * double(values.size())))];
}

} // namespace Ferry::Bench
