// What a SIGHUP applies and what it names as needing a restart (app/reload.h).
#include "app/reload.h"

#include <gtest/gtest.h>

#include "common/log.h"

namespace logbucket::app {
namespace {

TEST(Reload, AppliesTheLiveSettingsAndNamesTheRest) {
  config::Config running;
  MetricsPage page(running);
  config::Config next = running;
  next.http.metrics_allow = {"10.1.2.0/24"};
  next.log_level = "warn";
  next.auth.session_seconds = 3600;
  next.web.site_name = "ALICE build logs";
  next.s3.listen = "0.0.0.0:9000";
  next.builds.window_days = 14;
  LiveParts parts;
  parts.metrics_page = &page;
  ReloadOutcome out = ApplyReload(running, next, parts);
  EXPECT_EQ(out.applied,
            (std::vector<std::string>{"http.metrics_allow", "log.level", "auth.session_seconds"}));
  EXPECT_EQ(out.needs_restart, (std::vector<std::string>{"s3.listen", "web.site_name", "builds"}));
  EXPECT_TRUE(out.failed.empty());
  // The running configuration now holds what was applied, and only that.
  EXPECT_EQ(running.http.metrics_allow, next.http.metrics_allow);
  EXPECT_EQ(running.log_level, "warn");
  EXPECT_EQ(running.s3.listen, "127.0.0.1:9000");
  EXPECT_EQ(DescribeReload(out),
            "applied http.metrics_allow, log.level, auth.session_seconds; needs a restart "
            "(running value kept): s3.listen, web.site_name, builds");
  Log().set_level(spdlog::level::info);  // as the other tests expect it
  // The same configuration again: nothing to do.
  EXPECT_EQ(DescribeReload(ApplyReload(running, running, parts)), "nothing changed");
}

TEST(Reload, EverySettingIsEitherLiveOrNamed) {
  // A secret change is named without showing the secret.
  config::Config running;
  config::Config next = running;
  next.auth.session_secret = "s3cr3t-value";
  ReloadOutcome out = ApplyReload(running, next, LiveParts{});
  EXPECT_EQ(out.needs_restart, (std::vector<std::string>{"auth.session_secret"}));
  EXPECT_EQ(DescribeReload(out).find("s3cr3t"), std::string::npos);
}

}  // namespace
}  // namespace logbucket::app
