// Issue 15, "the same in the console: a Datasets page per user (size, records, last import,
// delete with confirmation)". Driven through the widgets (offscreen) over a real engine: store,
// blob store, queue, dispatcher and migrate handler; each test asserts what the store holds.
#include "migrate/migratehandler.h"
#include "queue/builtinhandlers.h"
#include "queue/dispatcher.h"
#include "quota/quotaledger.h"
#include "storage/fileblobstore.h"
#include "testsupport.h"
#include "ui/datasets/datasetspage.h"
#include "uploadtestsupport.h"

#include <QComboBox>
#include <QJsonArray>
#include <QJsonObject>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTest>
#include <QTextBrowser>
#include <QThreadPool>

using namespace Ferry;
using namespace Ferry::Test;

class tst_DatasetsPage : public QObject
{
    Q_OBJECT

private:
    struct Console : MigrationEngine
    {
        ~Console() { page.reset(); }
        // Imports `rows` people into the user's dataset and waits for the job to complete.
        void import(qint64 userId, const QString &dataset, int rows, const QString &key = {})
        {
            QByteArray csv = "id,name\n";
            for (int i = 1; i <= rows; ++i)
                csv += QByteArray::number(i) + ",person " + QByteArray::number(i) + '\n';
            QJsonObject options{{QStringLiteral("dataset"), dataset}};
            if (!key.isEmpty())
                options.insert(QStringLiteral("key"), key);
            const qint64 job = queueCsvUpload(*queue, blobs, userId, csv, options).jobId;
            if (!started) {
                QVERIFY(dispatcher->start());
                started = true;
            }
            QVERIFY(waitFor([&] {
                const JobStatus s = (*t.store->job(job, std::nullopt))->status;
                return s == JobStatus::Completed || s == JobStatus::Failed || s == JobStatus::Dead;
            }));
            QCOMPARE((*t.store->job(job, std::nullopt))->status, JobStatus::Completed);
        }
        void show(qint64 userId)
        {
            context = std::make_unique<ConsoleContext>(
                ConsoleContext{*t.store, *queue, dispatcher.get(), *users, *quotas, nullptr,
                               nullptr, QString(), &readers});
            page = std::make_unique<DatasetsPage>(*context);
            page->setConfirm([this](QWidget *, const QString &question) {
                questions.append(question);
                return accept;
            });
            page->resize(1200, 700);
            page->show();
            QVERIFY(QTest::qWaitForWindowExposed(page.get()));
            showUser(userId);
        }
        void showUser(qint64 userId)
        {
            QSignalSpy read(page.get(), &DatasetsPage::datasetsRead);
            page->showUser(userId);
            QVERIFY(waitFor(
                [&] { return !read.isEmpty() && read.last().first().toLongLong() == userId; }));
        }
        QTableWidget *table()
        {
            return page->findChild<QTableWidget *>(QStringLiteral("datasetsTable"));
        }
        QStringList names()
        {
            QStringList result;
            for (int row = 0; row < table()->rowCount(); ++row)
                result.append(table()->item(row, 0)->text());
            return result;
        }
        QString cell(const QString &name, int column)
        {
            const int row = int(names().indexOf(name));
            return row < 0 ? QString() : table()->item(row, column)->text();
        }
        // Selects the dataset and waits for its details.
        QString select(const QString &name)
        {
            QSignalSpy shown(page.get(), &DatasetsPage::detailsShown);
            table()->selectRow(int(names().indexOf(name)));
            if (!waitFor([&] { return !shown.isEmpty() && shown.last().first() == name; }))
                return {};
            return page->findChild<QTextBrowser *>(QStringLiteral("datasetDetails"))->toPlainText();
        }
        QString click(const char *button)
        {
            QSignalSpy finished(page.get(), &DatasetsPage::deleteFinished);
            QTest::mouseClick(page->findChild<QPushButton *>(QLatin1String(button)),
                              Qt::LeftButton);
            if (!accept)
                return finished.wait(500) ? QStringLiteral("(ran anyway)") : QString();
            if (!finished.wait(30'000))
                return QStringLiteral("(no answer)");
            return finished.first().first().toString();
        }
        qint64 records(qint64 userId, const QString &name)
        {
            auto d = t.store->datasets().dataset(userId, name);
            return d && d->has_value() ? (*d)->records : -1;
        }

        std::unique_ptr<ConsoleContext> context;
        std::unique_ptr<DatasetsPage> page;
        bool started = false;
        QStringList questions;
        bool accept = true;
    };

private Q_SLOTS:
    // Each user's own datasets, with records, key, columns; the details list size and imports.
    void listsTheUsersDatasetsWithDetails()
    {
        Console c;
        c.import(c.alice, QStringLiteral("people"), 3, QStringLiteral("id"));
        c.import(c.alice, QStringLiteral("people"), 5, QStringLiteral("id")); // upserts 1-3
        c.import(c.alice, QStringLiteral("scratch"), 2);
        c.import(c.bob, QStringLiteral("bobs"), 4);
        c.show(c.alice);
        QCOMPARE(c.names(), (QStringList{QStringLiteral("people"), QStringLiteral("scratch")}));
        QCOMPARE(c.cell(QStringLiteral("people"), 1), QStringLiteral("5"));
        QCOMPARE(c.cell(QStringLiteral("people"), 2), QStringLiteral("id"));
        QCOMPARE(c.cell(QStringLiteral("people"), 3), QStringLiteral("id, name"));
        QCOMPARE(c.cell(QStringLiteral("scratch"), 2), QStringLiteral("—"));
        QCOMPARE(c.page->findChild<QLabel *>(QStringLiteral("datasetCount"))->text(),
                 QStringLiteral("2 datasets"));
        const QString details = c.select(QStringLiteral("people"));
        QVERIFY2(details.contains(u"5 records"), qPrintable(details));
        QVERIFY2(details.contains(u"key id"), qPrintable(details));
        QVERIFY2(details.contains(u"bytes of JSON"), qPrintable(details));
        // Both imports, newest first, each with what it imported.
        QCOMPARE(details.count(u"completed"), 2);
        const qsizetype newer = details.indexOf(u"completed\n5\n0\n");
        const qsizetype older = details.indexOf(u"completed\n3\n0\n");
        QVERIFY2(newer >= 0 && older > newer, qPrintable(details));

        c.showUser(c.bob);
        QCOMPARE(c.names(), QStringList{QStringLiteral("bobs")});
    }

    // The details show each column's type where a mapping gave one.
    void detailsShowColumnTypes()
    {
        Console c;
        const QJsonObject mapping{
            {QStringLiteral("fields"),
             QJsonArray{QJsonObject{{QStringLiteral("name"), QStringLiteral("id")},
                                    {QStringLiteral("type"), QStringLiteral("integer")}},
                        QJsonObject{{QStringLiteral("name"), QStringLiteral("name")}}}}};
        const qint64 job = queueCsvUpload(*c.queue, c.blobs, c.alice, "id,name\n1,a\n2,b\n",
                                          {{QStringLiteral("dataset"), QStringLiteral("typed")},
                                           {QStringLiteral("mapping"), mapping}})
                               .jobId;
        QVERIFY(c.dispatcher->start());
        c.started = true;
        QVERIFY(waitFor(
            [&] { return (*c.t.store->job(job, std::nullopt))->status == JobStatus::Completed; }));
        c.show(c.alice);
        const QString details = c.select(QStringLiteral("typed"));
        QVERIFY2(details.contains(u"id (integer), name"), qPrintable(details));
    }

    // Delete asks first with the dataset's name and owner; declined, nothing changes; accepted,
    // the dataset is gone from the store and the table.
    void deleteAsksThenDeletes()
    {
        Console c;
        c.import(c.alice, QStringLiteral("people"), 3);
        c.import(c.bob, QStringLiteral("people"), 2);
        c.show(c.alice);
        c.select(QStringLiteral("people"));
        c.accept = false;
        QCOMPARE(c.click("deleteDatasetButton"), QString());
        QCOMPARE(c.questions.size(), 1);
        QVERIFY(c.questions.first().contains(u"Delete dataset people of alice"));
        QCOMPARE(c.records(c.alice, QStringLiteral("people")), 3);

        c.accept = true;
        const QString summary = c.click("deleteDatasetButton");
        QCOMPARE(summary, QStringLiteral("Deleted dataset people and its 3 records."));
        QCOMPARE(c.records(c.alice, QStringLiteral("people")), -1);
        QCOMPARE(c.records(c.bob, QStringLiteral("people")), 2); // Bob's of that name stays
        QTRY_VERIFY(c.names().isEmpty());
    }

    // Empty keeps the dataset, its name and key, without records.
    void emptyKeepsTheDataset()
    {
        Console c;
        c.import(c.alice, QStringLiteral("people"), 4, QStringLiteral("id"));
        c.show(c.alice);
        c.select(QStringLiteral("people"));
        QCOMPARE(c.click("emptyDatasetButton"),
                 QStringLiteral("Emptied dataset people: 4 records deleted."));
        QVERIFY(c.questions.first().contains(u"Delete every record of dataset people of alice"));
        QCOMPARE(c.records(c.alice, QStringLiteral("people")), 0);
        auto d = c.t.store->datasets().dataset(c.alice, QStringLiteral("people"));
        QCOMPARE((*d)->key, QStringLiteral("id"));
        QTRY_COMPARE(c.cell(QStringLiteral("people"), 1), QStringLiteral("0"));
    }

    // While a migration into the dataset is pending, the delete is refused with the job's id and
    // what to do; nothing is deleted.
    void busyDatasetIsRefused()
    {
        Console c;
        c.import(c.alice, QStringLiteral("people"), 3);
        c.dispatcher->stop();
        const qint64 pending =
            queueCsvUpload(*c.queue, c.blobs, c.alice, "id,name\n9,x\n",
                           {{QStringLiteral("dataset"), QStringLiteral("people")}})
                .jobId;
        c.show(c.alice);
        c.select(QStringLiteral("people"));
        const QString summary = c.click("deleteDatasetButton");
        QVERIFY2(summary.contains(QStringLiteral("Job %1 (pending)").arg(pending)),
                 qPrintable(summary));
        QVERIFY2(summary.contains(u"nothing was deleted"), qPrintable(summary));
        QCOMPARE(c.records(c.alice, QStringLiteral("people")), 3);
        QCOMPARE(c.page->findChild<QLabel *>(QStringLiteral("datasetResult"))->text(), summary);
    }
};

QTEST_MAIN(tst_DatasetsPage)
#include "tst_datasetspage.moc"
