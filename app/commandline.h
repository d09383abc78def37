#pragma once

#include <QCommandLineParser>
#include <QHash>
#include <QStringList>

namespace Ferry {

// Ferry's command line: global options (accepted before or after a subcommand), mode flags and
// subcommand options, all on one parser.
class CommandLine final
{
public:
    CommandLine();

    // false: a usage error, described by errorText().
    bool parse(const QStringList &arguments);
    QString errorText() const { return m_parser.errorText(); }
    QString helpText() const;

    bool isSet(const QString &name) const { return m_parser.isSet(name); }
    QString value(const QString &name) const { return m_parser.value(name); }
    QStringList positional() const { return m_parser.positionalArguments(); }
    // The configuration options given on the command line, by name.
    QHash<QString, QString> configOptions() const;

private:
    QCommandLineParser m_parser;
};

} // namespace Ferry
