#pragma once

#include "http/httptypes.h"
#include "migrate/migrationrequest.h"

#include <QJsonValue>
#include <QString>
#include <QStringList>

#include <optional>

namespace Ferry {

// The parameters of an upload, from the query and (for a form) the form's fields of POST
// /api/v1/uploads, or from a tus upload's metadata: dataset (required), format, key, mapping
// (JSON), header (true/false), delimiter, quote, priority. Each is checked as it is taken, so a
// raw upload is refused before its body is read; a form's fields override the query's.
class UploadParams final
{
public:
    // Every name take() accepts, in the order the docs list them.
    static const QStringList &names();
    // Takes one parameter. An unknown name or a bad value gives its 400 answer; `where` names
    // what carried it in that answer ("query parameter", "form field", "metadata key").
    std::optional<Http::Response>
    take(const QString &name, const QString &value, QStringView where = u"parameter");
    // Once everything is taken: the 400 answer when the dataset is missing.
    std::optional<Http::Response> checkComplete() const;

    const QString &dataset() const { return m_dataset; }
    // What the request asked for, if anything (the tier policy decides the rest).
    std::optional<int> priority() const { return m_priority; }
    // The request for submitStoredMigration (file name and content type come from the body).
    MigrationRequest request(qint64 userId) const;
    // Every parameter in one canonical form (name=value, fixed order), for the request hash.
    QStringList canonical() const;

private:
    QString m_dataset;
    QString m_format;
    QString m_key;
    QJsonValue m_mapping = QJsonValue::Undefined;
    std::optional<bool> m_header;
    QString m_delimiter;
    QString m_quote;
    std::optional<int> m_priority;
};

} // namespace Ferry
