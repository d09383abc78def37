// Descriptor exhaustion: a flood of connections from a child process runs the server out of
// descriptors (this test lowers its own RLIMIT_NOFILE); once the flood ends, a fresh request is
// answered and the log says what happened. QTcpServer pauses accepting on EMFILE and, before
// the fix, nothing resumed it: the listener was dead for good.
#include "httptestsupport.h"

#include <QProcess>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

using namespace Ferry;
using namespace Ferry::Http;
using namespace Ferry::Http::Test;

namespace {

constexpr char FloodPortVariable[] = "FERRY_TEST_FLOOD_PORT";
constexpr int FloodConnections = 1500;

// The child: opens many connections (non-blocking, so a full backlog does not stall it), sends
// the start of a request on each, and holds them until its stdin closes.
int flood(quint16 port)
{
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max; // the parent lowered its own; the child needs many
    ::setrlimit(RLIMIT_NOFILE, &limit);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::vector<int> sockets;
    for (int i = 0; i < FloodConnections; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0)
            break;
        (void)::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address);
        sockets.push_back(fd);
    }
    ::usleep(500'000);
    static const char partial[] = "GET /flood HTTP/1.1\r\n";
    for (int fd : sockets)
        (void)!::send(fd, partial, sizeof partial - 1, MSG_NOSIGNAL);
    std::fputs("flooding\n", stdout);
    std::fflush(stdout);
    char byte;
    while (::read(0, &byte, 1) > 0) {
    }
    return 0; // the kernel closes every connection
}

QStringList g_messages;
QMutex g_messagesMutex;

void captureMessages(QtMsgType, const QMessageLogContext &, const QString &message)
{
    QMutexLocker lock(&g_messagesMutex);
    g_messages.append(message);
}

bool logged(const QString &needle)
{
    QMutexLocker lock(&g_messagesMutex);
    return std::any_of(g_messages.cbegin(), g_messages.cend(),
                       [&](const QString &m) { return m.contains(needle); });
}

} // namespace

class tst_HttpDescriptors : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void acceptsAgainAfterDescriptorExhaustion()
    {
        rlimit saved{};
        QVERIFY(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
        TestHandler handler;
        HttpLimits limits = fastLimits();
        limits.headerTimeoutMs = 60'000; // the flood holds its descriptors until it ends
        limits.maxConnectionsPerIp = 100'000;
        limits.reservedDescriptors = 0; // let accept() itself run out
        limits.raiseDescriptorLimit = false;
        limits.maxRefusing = 8;
        limits.acceptRetryMs = 100;
        limits.networkThreads = 1;
        QProcess flooder;
        flooder.setProgram(QCoreApplication::applicationFilePath());
        flooder.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        {
            rlimit low = saved;
            low.rlim_cur = 128;
            QVERIFY(::setrlimit(RLIMIT_NOFILE, &low) == 0);
        }
        auto restore = qScopeGuard([&] { ::setrlimit(RLIMIT_NOFILE, &saved); });
        auto server = std::make_unique<HttpServer>(handler, limits);
        const auto port = server->listen(QHostAddress::LocalHost, 0);
        QVERIFY(port.ok());

        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert(QString::fromLatin1(FloodPortVariable), QString::number(*port));
        flooder.setProcessEnvironment(environment);
        const QtMessageHandler previous = qInstallMessageHandler(captureMessages);
        auto uninstall = qScopeGuard([&] { qInstallMessageHandler(previous); });
        flooder.start();
        QVERIFY(flooder.waitForStarted(20'000));
        QVERIFY(QTest::qWaitFor([&] { return flooder.canReadLine(); }, 60'000));
        const bool exhausted =
            QTest::qWaitFor([] { return logged(QStringLiteral("accept() failed")); }, 60'000);
        QVERIFY2(exhausted, qPrintable(QStringLiteral("the flood never ran the server out of "
                                                      "descriptors (%1 connections open)")
                                           .arg(server->openConnections())));

        flooder.closeWriteChannel(); // the flood ends
        QVERIFY(flooder.waitForFinished(60'000));

        // Within seconds the server accepts and answers again.
        bool answered = false;
        for (int attempt = 0; attempt < 20 && !answered; ++attempt) {
            RawClient client(*port);
            if (!client.waitConnected(5'000))
                continue;
            client.send("GET /after HTTP/1.1\r\n\r\n");
            answered = client.waitResponses(1, 5'000) && client.responses[0].status == 200;
        }
        QVERIFY2(answered, "the listener no longer accepts after the flood");
        QVERIFY(logged(QStringLiteral("Accepting connections again")));
        server.reset();
    }
};

int main(int argc, char **argv)
{
    if (const QByteArray port = qgetenv(FloodPortVariable); !port.isEmpty())
        return flood(quint16(port.toUInt()));
    qputenv("QT_LOGGING_RULES", "ferry.http.info=true"); // the recovery is logged at info level
    QCoreApplication app(argc, argv);
    tst_HttpDescriptors test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_httpdescriptors.moc"
