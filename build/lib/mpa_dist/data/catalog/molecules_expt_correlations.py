"""Liquid properties at 298.15 K evaluated from chemicals' fitted temperature correlations.

A correlation is used only when 298.15 K lies inside its stated validity range (no
extrapolation; for solids at 298.15 K the liquid correlations do not apply and the row is
rejected with that reason). Checked against ethanol, benzene and water: Psat 7.9 / 12.7 /
3.17 kPa, viscosity 1.07 / 0.60 / 0.89 mPa s, surface tension 22.0 / 28.2 / 72.0 mN/m.

Left out on purpose: the Viswanath-Natarajan viscosity tables (ethanol comes out at 3.1 mPa s,
three times the true value), the Somayajulu surface tension fits (benzene 34 instead of
28 mN/m) and VDI PPDS 10 (0.015 W/(m K) for liquid ethanol: a gas-phase table).
"""

from __future__ import annotations

import math

from mpa_dist.data.catalog.chemicals_tables import T298
from mpa_dist.data.catalog.molecules_expt_sources import cas


def _in_range(lo, hi=math.inf):
    if lo != lo or hi != hi:  # NaN: the table has no correlation for this compound
        raise ValueError("missing value")
    if not (lo <= T298 <= hi):
        raise ValueError(f"298.15 K outside the correlation range [{lo}, {hi}] K (solid or gas at 298.15 K)")


def _landolt(r):
    _in_range(r.Tmin, r.Tmax)
    return math.exp(r.A - r.B / (T298 + r.C))  # ln(P/Pa)


def _antoine_poling(r):
    from chemicals.vapor_pressure import Antoine

    _in_range(r.Tmin, r.Tmax)
    return Antoine(T298, r.A, r.B, r.C)


def _antoine_extended(r):
    from chemicals.vapor_pressure import TRC_Antoine_extended

    _in_range(r.Tmin, r.Tmax)
    return TRC_Antoine_extended(T298, r.Tc, r.to, r.A, r.B, r.C, r.n, r.E, r.F)


def _wagner_poling(r):
    from chemicals.vapor_pressure import Wagner

    _in_range(r.Tmin, r.Tmax)
    return Wagner(T298, r.Tc, r.Pc, r.A, r.B, r.C, r.D)


def _wagner_mcgarry(r):
    from chemicals.vapor_pressure import Wagner_original

    _in_range(r.Tmin, r.Tc)
    return Wagner_original(T298, r.Tc, r.Pc, r.A, r.B, r.C, r.D)


def _vdi_psat(r):
    from chemicals.vapor_pressure import Wagner

    _in_range(r.Tm, r.Tc)
    return Wagner(T298, r.Tc, r.Pc, r.A, r.B, r.C, r.D)


def _webbook_antoine(r):
    _in_range(r.AntoineTmin, r.AntoineTmax)
    return math.exp(r.AntoineA - r.AntoineB / (T298 + r.AntoineC))  # chemicals stores ln(P/Pa)


def _eq101(r):
    from chemicals.dippr import EQ101

    _in_range(r.Tmin, r.Tmax)
    return EQ101(T298, r.C1, r.C2, r.C3, r.C4, r.C5)


def _eq100(r):
    from chemicals.dippr import EQ100

    _in_range(r.Tmin, r.Tmax)
    return EQ100(T298, r.C1, r.C2, r.C3, r.C4, r.C5)


def _ppds9(r):
    from chemicals.viscosity import PPDS9

    from chemicals.interface import sigma_data_VDI_PPDS_11 as vdi

    # VDI PPDS 7 states no range: take the liquid range (Tm, Tc) of the same VDI compound list
    if r.name not in vdi.index:
        raise ValueError("no VDI liquid range (Tm, Tc) to check 298.15 K against")
    _in_range(vdi.at[r.name, "Tm"], vdi.at[r.name, "Tc"])
    v = PPDS9(T298, r.A, r.B, r.C, r.D, r.E)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError("correlation gives no finite positive value at 298.15 K")
    return v


def _jasper(r):
    from chemicals.interface import Jasper

    _in_range(r.Tmin, r.Tmax)
    return Jasper(T298, r.a, r.b)


def _mulero(r):
    from chemicals.interface import REFPROP_sigma

    _in_range(r.Tmin, r.Tmax)
    return REFPROP_sigma(T298, r.Tc, r.sigma0, r.n0, r.sigma1, r.n1, r.sigma2, r.n2)


def _vdi_sigma(r):
    from chemicals.dippr import EQ106

    _in_range(r.Tm, r.Tc)
    return EQ106(T298, r.Tc, r.A, r.B, r.C, r.D, r.E)


_T = {"temperature": T298}
_PSAT = [
    cas("landolt_boernstein_antoine", "vapor_pressure", "Psat_data_Landolt_Antoine", _landolt, name_col="Name", **_T),
    cas("poling", "vapor_pressure", "Psat_data_AntoinePoling", _antoine_poling, name_col="Chemical", **_T),
    cas("poling", "vapor_pressure", "Psat_data_WagnerPoling", _wagner_poling, name_col="Name", **_T),
    cas("poling", "vapor_pressure", "Psat_data_AntoineExtended", _antoine_extended, name_col="Chemical", **_T),
    cas("mcgarry_wagner_coefficients", "vapor_pressure", "Psat_data_WagnerMcGarry", _wagner_mcgarry, name_col="Name", **_T),
    cas("perry_s_handbook", "vapor_pressure", "Psat_data_Perrys2_8", _eq101, name_col="Chemical", **_T),
    cas("vdi_heat_atlas_ppds", "vapor_pressure", "Psat_data_VDI_PPDS_3", _vdi_psat, name_col="Chemical", **_T),
    cas("nist_webbook", "miscdata", "webbook_data", _webbook_antoine, int_index=True, **_T),
]
_MU = [
    cas("perry_s_handbook", "viscosity", "mu_data_Perrys_8E_2_313", _eq101, name_col="Chemical", **_T),
    cas("vdi_heat_atlas_ppds", "viscosity", "mu_data_VDI_PPDS_7", _ppds9, name_col="Chemical", formula_col="Formula", **_T),
]
_SIGMA = [
    cas("jasper_lange_mulero_somayajulu_surface_tension", "interface", "sigma_data_Jasper_Lange", _jasper, name_col="Name", **_T),
    cas("jasper_lange_mulero_somayajulu_surface_tension", "interface", "sigma_data_Mulero_Cachadina", _mulero, name_col="Fluid", **_T),
    cas("vdi_heat_atlas_ppds", "interface", "sigma_data_VDI_PPDS_11", _vdi_sigma, name_col="Chemical", **_T),
]
_K = [cas("perry_s_handbook", "thermal_conductivity", "k_data_Perrys_8E_2_315", _eq100, name_col="Chemical", **_T)]

# (name, property, unit, readout, sanity, tolerance, description, parts, extra kwargs)
# For the log10-transformed tasks the tolerance is in log10 units (a factor 10**tol), as
# stated in their descriptions: an absolute tolerance in Pa is meaningless over 10 decades.
CORRELATION_TASKS = [
    ("vapor_pressure_298k", "vapour pressure of the liquid at 298.15 K", "Pa", "attention", (1e-8, 1e8), 0.05,
     "Saturation vapour pressure of the liquid at 298.15 K from fitted correlations valid there; "
     "tolerance in log10(Pa).", _PSAT, {"transform": "log10"}),
    ("liquid_viscosity_298k", "dynamic viscosity of the liquid at 298.15 K", "Pa s", "attention", (1e-5, 1e3), 0.05,
     "Dynamic viscosity of the saturated liquid at 298.15 K from fitted correlations; tolerance in log10(Pa s).",
     _MU, {"transform": "log10"}),
    ("surface_tension_298k", "surface tension of the liquid at 298.15 K", "N/m", "hybrid", (1e-5, 0.5), 0.002,
     "Liquid-vapour surface tension at 298.15 K from fitted correlations valid there.", _SIGMA, {}),
    ("liquid_thermal_conductivity_298k", "thermal conductivity of the liquid at 298.15 K", "W/(m K)", "mean",
     (0.01, 1.0), 0.01, "Thermal conductivity of the saturated liquid at 298.15 K (Perry 2-315, DIPPR eq. 100).",
     _K, {}),
]
