-- Analyst lookups: flag state by MID, and AIS ship-type codes with their groups.
-- Both are small reference tables that the analyst views join to; analysts may join them too.

-- Maritime Identification Digits (first three digits of a ship MMSI) -> flag state.
-- Mirrors seeds/reference/mid_countries.csv (pipeline.vessels.mid_table); a test keeps the two equal.
CREATE TABLE straitwatch.mid_countries (
    mid      smallint PRIMARY KEY CHECK (mid BETWEEN 201 AND 775),
    country  text NOT NULL,
    flag     text            -- as in the seed (ISO 3166 alpha-2 where the seed has it)
);
COMMENT ON TABLE straitwatch.mid_countries IS
    'Flag state of a ship MMSI: mid = mmsi / 1000000 for MMSIs 201000000-775999999.';

INSERT INTO straitwatch.mid_countries (mid, country, flag) VALUES
    (201, 'Albania', 'AL'), (202, 'Andorra', 'AD'), (203, 'Austria', 'AT'),
    (204, 'Portugal', 'PT'), (205, 'Belgium', 'BE'), (206, 'Belarus', 'BY'),
    (207, 'Bulgaria', 'BG'), (208, 'Vatican', 'VA'), (209, 'Cyprus', 'CY'), (210, 'Cyprus', 'CY'),
    (211, 'Germany', 'DE'), (212, 'Cyprus', 'CY'), (213, 'Georgia', 'GE'), (214, 'Moldova', 'MD'),
    (215, 'Malta', 'MT'), (216, 'Armenia', 'AM'), (218, 'Germany', 'DE'), (219, 'Denmark', 'DK'),
    (220, 'Denmark', 'DK'), (224, 'Spain', 'ES'), (225, 'Spain', 'ES'), (226, 'France', 'FR'),
    (227, 'France', 'FR'), (228, 'France', 'FR'), (229, 'Malta', 'MT'), (230, 'Finland', 'FI'),
    (231, 'Faroe Is', 'FO'), (232, 'United Kingdom', 'GB'), (233, 'United Kingdom', 'GB'),
    (234, 'United Kingdom', 'GB'), (235, 'United Kingdom', 'GB'), (236, 'Gibraltar', 'GI'),
    (237, 'Greece', 'GR'), (238, 'Croatia', 'HR'), (239, 'Greece', 'GR'), (240, 'Greece', 'GR'),
    (241, 'Greece', 'GR'), (242, 'Morocco', 'MA'), (243, 'Hungary', 'HU'),
    (244, 'Netherlands', 'NL'), (245, 'Netherlands', 'NL'), (246, 'Netherlands', 'NL'),
    (247, 'Italy', 'IT'), (248, 'Malta', 'MT'), (249, 'Malta', 'MT'), (250, 'Ireland', 'IE'),
    (251, 'Iceland', 'IS'), (252, 'Liechtenstein', 'LI'), (253, 'Luxembourg', 'LU'),
    (254, 'Monaco', 'MC'), (255, 'Portugal', 'PT'), (256, 'Malta', 'MT'), (257, 'Norway', 'NO'),
    (258, 'Norway', 'NO'), (259, 'Norway', 'NO'), (261, 'Poland', 'PL'), (262, 'Montenegro', 'ME'),
    (263, 'Portugal', 'PT'), (264, 'Romania', 'RO'), (265, 'Sweden', 'SE'), (266, 'Sweden', 'SE'),
    (267, 'Slovakia', 'SK'), (268, 'San Marino', 'SM'), (269, 'Switzerland', 'CH'),
    (270, 'Czech Republic', 'CZ'), (271, 'Turkey', 'TR'), (272, 'Ukraine', 'UA'),
    (273, 'Russia', 'RU'), (274, 'FYR Macedonia', 'MK'), (275, 'Latvia', 'LV'),
    (276, 'Estonia', 'EE'), (277, 'Lithuania', 'LT'), (278, 'Slovenia', 'SI'),
    (279, 'Serbia', 'RS'), (301, 'Anguilla', 'AI'), (303, 'USA', 'US'),
    (304, 'Antigua Barbuda', 'AG'), (305, 'Antigua Barbuda', 'AG'), (306, 'Curacao', 'CW'),
    (307, 'Aruba', 'AW'), (308, 'Bahamas', 'BS'), (309, 'Bahamas', 'BS'), (310, 'Bermuda', 'BM'),
    (311, 'Bahamas', 'BS'), (312, 'Belize', 'BZ'), (314, 'Barbados', 'BB'), (316, 'Canada', 'CA'),
    (319, 'Cayman Is', 'KY'), (321, 'Costa Rica', 'CR'), (323, 'Cuba', 'CU'),
    (325, 'Dominica', 'DM'), (327, 'Dominican Rep', 'DO'), (329, 'Guadeloupe', 'GP'),
    (330, 'Grenada', 'GD'), (331, 'Greenland', 'GL'), (332, 'Guatemala', 'GT'),
    (334, 'Honduras', 'HN'), (336, 'Haiti', 'HT'), (338, 'USA', 'US'), (339, 'Jamaica', 'JM'),
    (341, 'St Kitts Nevis', 'KN'), (343, 'St Lucia', 'LC'), (345, 'Mexico', 'MX'),
    (347, 'Martinique', 'MQ'), (348, 'Montserrat', 'MS'), (350, 'Nicaragua', 'NI'),
    (351, 'Panama', 'PA'), (352, 'Panama', 'PA'), (353, 'Panama', 'PA'), (354, 'Panama', 'PA'),
    (355, 'Panama', 'PA'), (356, 'Panama', 'PA'), (357, 'Panama', 'PA'),
    (358, 'Puerto Rico', 'PR'), (359, 'El Salvador', 'SV'), (361, 'St Pierre Miquelon', 'PM'),
    (362, 'Trinidad Tobago', 'TT'), (364, 'Turks Caicos Is', 'TC'), (366, 'USA', 'US'),
    (367, 'USA', 'US'), (368, 'USA', 'US'), (369, 'USA', 'US'), (370, 'Panama', 'PA'),
    (371, 'Panama', 'PA'), (372, 'Panama', 'PA'), (373, 'Panama', 'PA'), (374, 'Panama', 'PA'),
    (375, 'St Vincent Grenadines', 'VC'), (376, 'St Vincent Grenadines', 'VC'),
    (377, 'St Vincent Grenadines', 'VC'), (378, 'British Virgin Is', 'VG'),
    (379, 'US Virgin Is', 'VI'), (401, 'Afghanistan', 'AF'), (403, 'Saudi Arabia', 'SA'),
    (405, 'Bangladesh', 'BD'), (408, 'Bahrain', 'BH'), (410, 'Bhutan', 'BT'), (412, 'China', 'CN'),
    (413, 'China', 'CN'), (414, 'China', 'CN'), (416, 'Taiwan', 'TW'), (417, 'Sri Lanka', 'LK'),
    (419, 'India', 'IN'), (422, 'Iran', 'IR'), (423, 'Azerbaijan', 'AZ'), (425, 'Iraq', 'IQ'),
    (428, 'Israel', 'IL'), (431, 'Japan', 'JP'), (432, 'Japan', 'JP'), (434, 'Turkmenistan', 'TM'),
    (436, 'Kazakhstan', 'KZ'), (437, 'Uzbekistan', 'UZ'), (438, 'Jordan', 'JO'),
    (440, 'Korea', 'KR'), (441, 'Korea', 'KR'), (443, 'Palestine', 'PS'), (445, 'DPR Korea', 'KP'),
    (447, 'Kuwait', 'KW'), (450, 'Lebanon', 'LB'), (451, 'Kyrgyz Republic', 'KG'),
    (453, 'Macao', 'MO'), (455, 'Maldives', 'MV'), (457, 'Mongolia', 'MN'), (459, 'Nepal', 'NP'),
    (461, 'Oman', 'OM'), (463, 'Pakistan', 'PK'), (466, 'Qatar', 'QA'), (468, 'Syria', 'SY'),
    (470, 'UAE', 'AE'), (471, 'UAE', 'AE'), (472, 'Tajikistan', 'TJ'), (473, 'Yemen', 'YE'),
    (475, 'Yemen', 'YE'), (477, 'Hong Kong', 'HK'), (478, 'Bosnia and Herzegovina', 'BA'),
    (501, 'Antarctica', 'AQ'), (503, 'Australia', 'AU'), (506, 'Myanmar', 'MM'),
    (508, 'Brunei', 'BN'), (510, 'Micronesia', 'FM'), (511, 'Palau', 'PW'),
    (512, 'New Zealand', 'NZ'), (514, 'Cambodia', 'KH'), (515, 'Cambodia', 'KH'),
    (516, 'Christmas Is', 'CX'), (518, 'Cook Is', 'CK'), (520, 'Fiji', 'FJ'),
    (523, 'Cocos Is', 'CC'), (525, 'Indonesia', 'ID'), (529, 'Kiribati', 'KI'),
    (531, 'Laos', 'LA'), (533, 'Malaysia', 'MY'), (536, 'N Mariana Is', 'MP'),
    (538, 'Marshall Is', 'MH'), (540, 'New Caledonia', 'NC'), (542, 'Niue', 'NU'),
    (544, 'Nauru', 'NR'), (546, 'French Polynesia', 'PF'), (548, 'Philippines', 'PH'),
    (553, 'Papua New Guinea', 'PG'), (555, 'Pitcairn Is', 'PN'), (557, 'Solomon Is', 'SB'),
    (559, 'American Samoa', 'AS'), (561, 'Samoa', 'WS'), (563, 'Singapore', 'SG'),
    (564, 'Singapore', 'SG'), (565, 'Singapore', 'SG'), (566, 'Singapore', 'SG'),
    (567, 'Thailand', 'TH'), (570, 'Tonga', 'TO'), (572, 'Tuvalu', 'TV'), (574, 'Vietnam', 'VN'),
    (576, 'Vanuatu', 'VU'), (577, 'Vanuatu', 'VU'), (578, 'Wallis Futuna Is', 'WF'),
    (601, 'South Africa', 'ZA'), (603, 'Angola', 'AO'), (605, 'Algeria', 'DZ'),
    (607, 'St Paul Amsterdam Is', 'TF'), (608, 'Ascension Is', 'IO'), (609, 'Burundi', 'BI'),
    (610, 'Benin', 'BJ'), (611, 'Botswana', 'BW'), (612, 'Cen Afr Rep', 'CF'),
    (613, 'Cameroon', 'CM'), (615, 'Congo', 'CG'), (616, 'Comoros', 'KM'),
    (617, 'Cape Verde', 'CV'), (618, 'Antarctica', 'AQ'), (619, 'Ivory Coast', 'CI'),
    (620, 'Comoros', 'KM'), (621, 'Djibouti', 'DJ'), (622, 'Egypt', 'EG'), (624, 'Ethiopia', 'ET'),
    (625, 'Eritrea', 'ER'), (626, 'Gabon', 'GA'), (627, 'Ghana', 'GH'), (629, 'Gambia', 'GM'),
    (630, 'Guinea-Bissau', 'GW'), (631, 'Equ. Guinea', 'GQ'), (632, 'Guinea', 'GN'),
    (633, 'Burkina Faso', 'BF'), (634, 'Kenya', 'KE'), (635, 'Antarctica', 'AQ'),
    (636, 'Liberia', 'LR'), (637, 'Liberia', 'LR'), (642, 'Libya', 'LY'), (644, 'Lesotho', 'LS'),
    (645, 'Mauritius', 'MU'), (647, 'Madagascar', 'MG'), (649, 'Mali', 'ML'),
    (650, 'Mozambique', 'MZ'), (654, 'Mauritania', 'MR'), (655, 'Malawi', 'MW'),
    (656, 'Niger', 'NE'), (657, 'Nigeria', 'NG'), (659, 'Namibia', NULL), (660, 'Reunion', 'RE'),
    (661, 'Rwanda', 'RW'), (662, 'Sudan', 'SD'), (663, 'Senegal', 'SN'), (664, 'Seychelles', 'SC'),
    (665, 'St Helena', 'SH'), (666, 'Somalia', 'SO'), (667, 'Sierra Leone', 'SL'),
    (668, 'Sao Tome Principe', 'ST'), (669, 'Swaziland', 'SZ'), (670, 'Chad', 'TD'),
    (671, 'Togo', 'TG'), (672, 'Tunisia', 'TN'), (674, 'Tanzania', 'TZ'), (675, 'Uganda', 'UG'),
    (676, 'DR Congo', 'CD'), (677, 'Tanzania', 'TZ'), (678, 'Zambia', 'ZM'),
    (679, 'Zimbabwe', 'ZW'), (701, 'Argentina', 'AR'), (710, 'Brazil', 'BR'),
    (720, 'Bolivia', 'BO'), (725, 'Chile', 'CL'), (730, 'Colombia', 'CO'), (735, 'Ecuador', 'EC'),
    (740, 'UK', 'UK'), (745, 'Guiana', 'GF'), (750, 'Guyana', 'GY'), (755, 'Paraguay', 'PY'),
    (760, 'Peru', 'PE'), (765, 'Suriname', 'SR'), (770, 'Uruguay', 'UY'), (775, 'Venezuela', 'VE');

-- AIS "type of ship and cargo" (ITU-R M.1371-5, table 53). ship_type_group is a coarse class;
-- portwatch_comparable marks the classes IMF PortWatch counts in its chokepoint transits
-- (container, dry bulk, general cargo, ro-ro, tanker). AIS codes cannot split 70-79 into
-- container / dry bulk / general cargo / ro-ro: those are all 'cargo' here, so compare our
-- cargo + tanker with PortWatch's total. The three functions are the rules (inlined into the
-- views, so a month of crossings costs no join); the table lists them for people and joins.

CREATE FUNCTION straitwatch.ship_type_group(ship_type integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN ship_type BETWEEN 70 AND 79 THEN 'cargo'
        WHEN ship_type BETWEEN 80 AND 89 THEN 'tanker'
        WHEN ship_type BETWEEN 60 AND 69 THEN 'passenger'
        WHEN ship_type = 30 THEN 'fishing'
        WHEN ship_type IN (31, 32, 33, 34, 50, 51, 52, 53, 54, 55, 58) THEN 'service'
        WHEN ship_type IN (35, 59) THEN 'military'
        WHEN ship_type IN (36, 37) THEN 'leisure'
        WHEN ship_type BETWEEN 20 AND 29 OR ship_type BETWEEN 40 AND 49 THEN 'high_speed'
        WHEN ship_type BETWEEN 90 AND 99 THEN 'other'
        ELSE 'unknown'
    END
$$;

CREATE FUNCTION straitwatch.portwatch_comparable(ship_type integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(ship_type BETWEEN 70 AND 89, false)
$$;

CREATE FUNCTION straitwatch.ship_type_description(ship_type integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
           WHEN ship_type = 0 THEN 'not available'
           WHEN ship_type BETWEEN 1 AND 19 THEN 'reserved'
           WHEN ship_type BETWEEN 20 AND 29 THEN 'wing in ground'
           WHEN ship_type = 30 THEN 'fishing'
           WHEN ship_type = 31 THEN 'towing'
           WHEN ship_type = 32 THEN 'towing, length > 200 m or breadth > 25 m'
           WHEN ship_type = 33 THEN 'dredging or underwater operations'
           WHEN ship_type = 34 THEN 'diving operations'
           WHEN ship_type = 35 THEN 'military operations'
           WHEN ship_type = 36 THEN 'sailing'
           WHEN ship_type = 37 THEN 'pleasure craft'
           WHEN ship_type BETWEEN 38 AND 39 THEN 'reserved'
           WHEN ship_type BETWEEN 40 AND 49 THEN 'high speed craft'
           WHEN ship_type = 50 THEN 'pilot vessel'
           WHEN ship_type = 51 THEN 'search and rescue vessel'
           WHEN ship_type = 52 THEN 'tug'
           WHEN ship_type = 53 THEN 'port tender'
           WHEN ship_type = 54 THEN 'anti-pollution equipment'
           WHEN ship_type = 55 THEN 'law enforcement'
           WHEN ship_type BETWEEN 56 AND 57 THEN 'spare, local use'
           WHEN ship_type = 58 THEN 'medical transport'
           WHEN ship_type = 59 THEN 'noncombatant ship (RR Resolution No. 18)'
           WHEN ship_type BETWEEN 60 AND 69 THEN 'passenger'
           WHEN ship_type BETWEEN 70 AND 79 THEN 'cargo'
           WHEN ship_type BETWEEN 80 AND 89 THEN 'tanker'
           WHEN ship_type BETWEEN 90 AND 99 THEN 'other type'
       END
       || CASE
           -- the second digit of these classes carries the hazardous cargo category
           WHEN ship_type BETWEEN 20 AND 29 OR ship_type BETWEEN 40 AND 49
                OR ship_type BETWEEN 60 AND 99 THEN
               CASE ship_type % 10
                   WHEN 1 THEN ', hazardous category A'
                   WHEN 2 THEN ', hazardous category B'
                   WHEN 3 THEN ', hazardous category C'
                   WHEN 4 THEN ', hazardous category D'
                   WHEN 9 THEN ', no additional information'
                   WHEN 0 THEN ''
                   ELSE ', reserved'
               END
           ELSE ''
       END
$$;

CREATE TABLE straitwatch.ais_ship_types (
    ship_type             smallint PRIMARY KEY CHECK (ship_type BETWEEN 0 AND 99),
    description           text NOT NULL,
    ship_type_group       text NOT NULL,
    portwatch_comparable  boolean NOT NULL
);
COMMENT ON TABLE straitwatch.ais_ship_types IS
    'AIS ship and cargo type codes 0-99 with a coarse group; cargo (70-79) + tanker (80-89) '
    'is the part comparable with IMF PortWatch transit counts.';

INSERT INTO straitwatch.ais_ship_types (ship_type, description, ship_type_group, portwatch_comparable)
SELECT code, straitwatch.ship_type_description(code), straitwatch.ship_type_group(code),
       straitwatch.portwatch_comparable(code)
FROM generate_series(0, 99) AS code;
