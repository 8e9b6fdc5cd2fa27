"""PV production per MWp for a German site, from pvlib with stochastic cloudiness.

The chain is pvlib's: Ineichen clear-sky irradiance -> clearness index (daily weather regime times intra-day
cloud variability) -> Erbs decomposition -> plane-of-array irradiance -> Faiman cell temperature -> PVWatts DC
and a flat loss factor. Only the clearness index is random; everything else is physics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bessgym.data._noise import ar1


@dataclass(frozen=True)
class PVSite:
    """A fixed-tilt PV plant.

    Attributes
    ----------
    latitude_deg, longitude_deg : site position [deg]; the default is central Germany (near Kassel).
    altitude_m : site altitude [m].
    tilt_deg, azimuth_deg : module orientation [deg]; azimuth 180 = south.
    gamma_pdc_per_k : power temperature coefficient [1/K].
    losses : system losses (wiring, soiling, inverter, availability) as a fraction [-].
    dc_ac_ratio : DC peak over inverter AC rating [-]; output is clipped at 1/dc_ac_ratio per MWp.
    """

    latitude_deg: float = 51.3
    longitude_deg: float = 9.5
    altitude_m: float = 200.0
    tilt_deg: float = 30.0
    azimuth_deg: float = 180.0
    gamma_pdc_per_k: float = -0.0037
    losses: float = 0.10
    dc_ac_ratio: float = 1.15


# Typical monthly Linke turbidity for central Germany (clearer air in winter).
_LINKE_TURBIDITY = np.array([3.0, 3.2, 3.5, 3.8, 4.0, 4.2, 4.3, 4.2, 3.9, 3.5, 3.2, 3.0])
# Mean daily clearness (share of clear-sky GHI) by month, Germany: dull winters, brighter summers.
_CLEARNESS_MEAN = np.array([0.40, 0.50, 0.58, 0.68, 0.70, 0.72, 0.73, 0.72, 0.66, 0.54, 0.42, 0.37])


def clear_sky_and_geometry(index: pd.DatetimeIndex, site: PVSite) -> pd.DataFrame:
    """Clear-sky GHI/DNI/DHI [W/m2] and solar position at the middle of each interval of ``index`` (UTC)."""
    import pvlib  # heavy import kept out of `import bessgym`

    step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(minutes=15)
    mid = index + step / 2
    loc = pvlib.location.Location(site.latitude_deg, site.longitude_deg, altitude=site.altitude_m, tz="UTC")
    sol = loc.get_solarposition(mid)
    linke = pd.Series(_LINKE_TURBIDITY[mid.month - 1], index=mid)
    cs = loc.get_clearsky(mid, model="ineichen", solar_position=sol, linke_turbidity=linke)
    out = pd.concat([cs, sol[["apparent_zenith", "zenith", "azimuth"]]], axis=1)
    out.index = index
    return out


def daily_clearness(days: pd.DatetimeIndex, rng: np.random.Generator, *, persistence: float = 0.55) -> np.ndarray:
    """Daily clearness index in (0, 1): a Beta marginal by month with AR(1) persistence (weather regimes)."""
    z = ar1(rng, len(days), persistence)
    mean = _CLEARNESS_MEAN[days.month - 1]
    concentration = 3.2
    return stats.beta.ppf(stats.norm.cdf(z), mean * concentration, (1 - mean) * concentration)


def pv_per_mwp(
    index: pd.DatetimeIndex,
    clearness: np.ndarray,
    site: PVSite = PVSite(),
    *,
    geometry: pd.DataFrame | None = None,
) -> np.ndarray:
    """AC output per MWp [MW/MWp] on ``index`` for a given clearness index per interval [-]."""
    import pvlib

    g = clear_sky_and_geometry(index, site) if geometry is None else geometry
    ghi = np.clip(clearness, 0.0, 1.1) * g["ghi"].to_numpy()
    mid = index + (index[1] - index[0]) / 2
    erbs = pvlib.irradiance.erbs(ghi, g["zenith"].to_numpy(), mid)
    poa = pvlib.irradiance.get_total_irradiance(
        site.tilt_deg, site.azimuth_deg, g["apparent_zenith"].to_numpy(), g["azimuth"].to_numpy(),
        erbs["dni"], ghi, erbs["dhi"], model="isotropic", albedo=0.2,
    )["poa_global"]
    poa = np.nan_to_num(np.asarray(poa, dtype=float), nan=0.0)
    temp_air_c = 10.0 - 9.0 * np.cos(2 * np.pi * (mid.day_of_year.to_numpy() - 15) / 365.25) + 0.01 * poa
    temp_cell_c = pvlib.temperature.faiman(poa, temp_air_c, wind_speed=2.0)
    dc = pvlib.pvsystem.pvwatts_dc(poa, temp_cell_c, pdc0=1.0, gamma_pdc=site.gamma_pdc_per_k)
    ac = np.asarray(dc, dtype=float) * (1.0 - site.losses)
    return np.clip(ac, 0.0, 1.0 / site.dc_ac_ratio)


def intraday_clearness(
    daily: np.ndarray, day_of_step: np.ndarray, rng: np.random.Generator, *, phi: float = 0.8
) -> np.ndarray:
    """Quarter-hourly clearness: the day's value times log-normal cloud noise, strongest on broken-cloud days."""
    k_day = daily[day_of_step]
    noise = ar1(rng, len(day_of_step), phi)
    sigma = 1.2 * k_day * (1.0 - k_day)
    return np.clip(k_day * np.exp(sigma * noise - sigma**2 / 2), 0.03, 1.1)

