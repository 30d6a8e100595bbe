// The DecisionLoop constructor with OpenSSL's action ids, apart from
// decision_loop.cc: a program that passes its own ids (tests, the decision
// tick benchmark) does not link this file, hence no OpenSSL for them.
#include "prescale/aggregator/control/control_store.h"
#include "prescale/aggregator/scaling/decision_loop.h"

namespace prescale::aggregator {

DecisionLoop::DecisionLoop(ControlStore* store, const DemandRollups* demand, const ForecastEngine* forecasts,
                           const SeriesStore* series, const Clock& clock, DecisionLoopOptions options)
    : DecisionLoop(store, demand, forecasts, series, clock, options, [] { return "act_" + RandomHex(12); }) {}

}  // namespace prescale::aggregator
