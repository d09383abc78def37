#pragma once

#include "http/httptypes.h"

#include <QJsonObject>
#include <QStringList>

#include <functional>
#include <optional>
#include <variant>

namespace Ferry {

// The options of a re-run or a dry run of a stored upload (POST /api/v1/sessions/{id}/migrations
// and /dry-run): a JSON object whose members override the upload's last migration, member by
// member. `"mapping": null` and `"key": null` drop the earlier one; a member left out keeps it.
// Values are checked as an upload's parameters are (UploadParams), with the same 400 answers.
class MigrationOptions final
{
public:
    // The members an options object may have: the upload's parameters but `priority`, which
    // `extra` adds where it applies, and `extra`.
    static QStringList names(const QStringList &extra);
    // An empty body is an empty object: nothing overridden.
    static std::variant<MigrationOptions, Http::Response> parse(const QByteArray &body,
                                                                const QStringList &extra);
    // The same options as text, from a query (value(name) is null or empty when not given).
    static std::variant<MigrationOptions, Http::Response>
    fromQuery(const std::function<QString(const QString &)> &value, const QStringList &extra);

    // The payload of the migration these options make of `previous` (the upload's last
    // migration's payload; empty when it has none): previous's members, overridden, with blob.
    QJsonObject applyTo(const QJsonObject &previous, const QString &blob) const;

    std::optional<int> priority() const { return m_priority; }
    std::optional<qint64> rows() const { return m_rows; }

private:
    // Checks one option given as text and keeps it, normalised.
    std::optional<Http::Response> take(const QString &name, const QString &text);

    QJsonObject m_overrides;       // payload members to set (already checked and normalised)
    QStringList m_dropped;         // payload members to remove ("mapping", "key")
    std::optional<int> m_priority; // a re-run's
    std::optional<qint64> m_rows;  // a dry run's
};

} // namespace Ferry
