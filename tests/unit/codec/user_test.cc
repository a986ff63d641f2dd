#include "codec/user.h"

#include <gtest/gtest.h>

#include <limits>

#include "test_util.h"

namespace ha {
namespace {

using testing::FromJson;

double Goal(const Goals& g, Metric m) { return g.goal[static_cast<size_t>(m)]; }

TEST(DecodeUser, PositiveNumbersOverrideTheDefaults) {
  BsonDoc doc = FromJson(
      R"({"_id":{"$oid":"65a1b2c3d4e5f60718293a00"},"name":"A","goals":{"stepGoal":12000,"distanceGoal":6.5,"calorieGoal":{"$numberLong":"2500"},"sleepGoal":{"$numberDouble":"7.5"}}})");
  ObjectId id;
  Goals goals;
  ASSERT_TRUE(DecodeUser(doc.get(), &id, &goals));
  EXPECT_EQ(id.ToHex(), "65a1b2c3d4e5f60718293a00");
  EXPECT_EQ(Goal(goals, Metric::kSteps), 12000);
  EXPECT_EQ(Goal(goals, Metric::kDistance), 6.5);
  EXPECT_EQ(Goal(goals, Metric::kCalories), 2500);
  EXPECT_EQ(Goal(goals, Metric::kSleepHours), 7.5);
  EXPECT_EQ(Goal(goals, Metric::kWeight), 0);
}

TEST(DecodeUser, AnythingElseKeepsTheDefault) {
  BsonDoc doc = FromJson(
      R"({"_id":{"$oid":"65a1b2c3d4e5f60718293a00"},"goals":{"stepGoal":"12000","distanceGoal":0,"calorieGoal":-100,"sleepGoal":{"$numberDouble":"NaN"}}})");
  const Goals goals = DecodeGoals(doc.get());
  const Goals defaults = DefaultGoals();
  EXPECT_EQ(goals.goal, defaults.goal);
  EXPECT_EQ(Goal(goals, Metric::kSteps), 10000);

  for (const char* json :
       {R"({"goals":{"stepGoal":null,"sleepGoal":{"$numberDouble":"Infinity"}}})",
        R"({"goals":{"stepGoal":true,"distanceGoal":{"$numberDecimal":"6"}}})",
        R"({"goals":"none"})", R"({"goals":null})", R"({})", R"({"goals":{}})"}) {
    BsonDoc d = FromJson(json);
    EXPECT_EQ(DecodeGoals(d.get()).goal, defaults.goal) << json;
  }
}

TEST(DecodeUser, PartialGoalsMixWithDefaults) {
  BsonDoc doc = FromJson(R"({"goals":{"sleepGoal":9}})");
  const Goals goals = DecodeGoals(doc.get());
  EXPECT_EQ(Goal(goals, Metric::kSleepHours), 9);
  EXPECT_EQ(Goal(goals, Metric::kSteps), 10000);
  EXPECT_EQ(Goal(goals, Metric::kDistance), 5);
  EXPECT_EQ(Goal(goals, Metric::kCalories), 2000);
}

TEST(DecodeUser, IdThatIsNotAnObjectIdIsRejected) {
  for (const char* json : {R"({"_id":"65a1b2c3d4e5f60718293a00","goals":{"stepGoal":5000}})",
                           R"({"goals":{"stepGoal":5000}})"}) {
    BsonDoc doc = FromJson(json);
    ObjectId id;
    Goals goals;
    EXPECT_FALSE(DecodeUser(doc.get(), &id, &goals)) << json;
    EXPECT_EQ(id, ObjectId{});
    EXPECT_EQ(Goal(goals, Metric::kSteps), 5000);  // goals are read either way
  }
}

}  // namespace
}  // namespace ha
