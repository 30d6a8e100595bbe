#include "prescale/forecast/forecaster.h"

namespace prescale::forecast {

std::vector<std::string> ModelNames() {
  return {"naive", "seasonal_naive", "sma", "ewma", "linear", "holt", "holt_winters", "auto"};
}

}  // namespace prescale::forecast
