/**
 * Who and where the demo data is about: Nigerian names (with Yorùbá diacritics and an
 * apostrophe, so exports and restores meet real-world text), the towns and markets unions
 * form in, trades and professions. Read-only tables; weights make the common cases common.
 */
import { Weighted } from './seeded-random.util';

export const FEMALE_NAMES = ['Ngozi', 'Chiamaka', 'Adaeze', 'Funmilayo', 'Folake', 'Yetunde', 'Bisola', 'Aisha', 'Fatima', 'Hauwa', 'Zainab', 'Amina', 'Blessing', 'Patience', 'Comfort', 'Grace', 'Chioma', 'Nkechi', 'Ifeoma', 'Titilayo', 'Kemi', 'Bọ́lá', 'Ìfẹ́olúwa', 'Àdùnní', 'Omolara', 'Halima', 'Hadiza', 'Osaretin', 'Ebere', 'Mercy', 'Esther', 'Joy', 'Precious', 'Abosede', 'Morenike', 'Iyabọ̀', 'Adébímpé', 'Uchechi', 'Nneka', 'Efe', 'Modupe', 'Temitope', 'Rukayat', 'Salamatu', 'Bukola', 'Ronke', 'Oluchi', 'Ibukun', 'Kehinde', 'Taiwo'];
export const MALE_NAMES = ['Adéwálé', 'Oluwaseun', 'Babatunde', 'Chinedu', 'Emeka', 'Obinna', 'Ifeanyi', 'Chukwuemeka', 'Ibrahim', 'Musa', 'Abdullahi', 'Usman', 'Yusuf', 'Aliyu', 'Tunde', 'Segun', 'Kayode', 'Femi', 'Gbenga', 'Uche', 'Nnamdi', 'Kelechi', 'Efosa', 'Osagie', 'Tamuno', 'Ebuka', 'Sani', 'Danjuma', 'Ayọ̀dèjì', 'Tèmítọ́pẹ́', 'Olúwadámiláre', 'Rasheed', 'Kunle', 'Dapo', 'Tobi', 'Chidi', 'Ikenna', 'Suleiman', 'Bashir', 'Godwin', 'Sunday', 'Monday', 'Friday', 'Lukman', 'Wale', 'Jide', 'Akin', 'Emmanuel', 'Samuel', 'Daniel'];
export const LAST_NAMES = ['Adeyemi', 'Okafor', 'Okonkwo', 'Balogun', 'Ogunleye', 'Eze', 'Nwosu', 'Abubakar', 'Mohammed', 'Bello', 'Adebayo', 'Olawale', 'Ibrahim', 'Okoro', 'Obi', 'Chukwu', 'Nwachukwu', 'Ogundipe', 'Adeleke', 'Oyelaran', 'Akinwumi', 'Olatunji', 'Danladi', 'Garba', 'Suleiman', 'Ekwueme', 'Igwe', 'Uzor', 'Osagie', 'Idahosa', 'Ekpo', 'Effiong', 'Bassey', 'Etim', 'Okon', 'Àjàyí', 'Adéyẹmí', 'Ọlágúnjú', 'Fashola', 'Lawal', 'Yusuf', 'Aminu', 'Oyebanji', 'Iwu', 'Ogunbiyi', 'Akande', 'Salami', 'Oladipo', 'Onyekachi', 'Ezeani', 'Adedeji', 'Ogunsanya', 'Oyewole', 'Ọ̀ṣúntókun', "O'Neil-Okeke", 'Babangida', 'Umar', 'Agbaje', 'Oduya', 'Ilesanmi'];

export interface Place {
  city: string;
  state: string;
  zip: string;
}
export const PLACES: readonly (readonly [Place, number])[] = [
  [{ city: 'Ikeja', state: 'Lagos', zip: '100001' }, 10],
  [{ city: 'Surulere', state: 'Lagos', zip: '101283' }, 6],
  [{ city: 'Yaba', state: 'Lagos', zip: '101212' }, 5],
  [{ city: 'Mushin', state: 'Lagos', zip: '100253' }, 5],
  [{ city: 'Ikorodu', state: 'Lagos', zip: '104101' }, 5],
  [{ city: 'Lekki', state: 'Lagos', zip: '105102' }, 3],
  [{ city: 'Agege', state: 'Lagos', zip: '100273' }, 4],
  [{ city: 'Ojo', state: 'Lagos', zip: '102101' }, 3],
  [{ city: 'Ibadan', state: 'Oyo', zip: '200001' }, 9],
  [{ city: 'Ògbómọ̀ṣọ́', state: 'Oyo', zip: '210001' }, 2],
  [{ city: 'Abeokuta', state: 'Ogun', zip: '110001' }, 5],
  [{ city: 'Ijebu-Ode', state: 'Ogun', zip: '120001' }, 2],
  [{ city: 'Sagamu', state: 'Ogun', zip: '121001' }, 2],
  [{ city: 'Osogbo', state: 'Osun', zip: '230001' }, 2],
  [{ city: 'Ile-Ife', state: 'Osun', zip: '220001' }, 2],
  [{ city: 'Ilorin', state: 'Kwara', zip: '240001' }, 3],
  [{ city: 'Benin City', state: 'Edo', zip: '300001' }, 3],
  [{ city: 'Onitsha', state: 'Anambra', zip: '434001' }, 3],
  [{ city: 'Enugu', state: 'Enugu', zip: '400001' }, 2],
  [{ city: 'Port Harcourt', state: 'Rivers', zip: '500001' }, 3],
  [{ city: 'Abuja', state: 'FCT', zip: '900001' }, 3],
  [{ city: 'Kano', state: 'Kano', zip: '700001' }, 2],
];
export const PLACE_TABLE = new Weighted(PLACES);
export const ALL_PLACES = PLACES.map(([p]) => p);

export const MARKETS: Record<string, readonly string[]> = {
  Lagos: ['Balogun Market', 'Computer Village', 'Oshodi Market', 'Mile 12 Market', 'Ladipo Market', 'Alaba International Market', 'Idumota Market', 'Oyingbo Market', 'Tejuosho Market', 'Ikotun Market', 'Ketu Market', 'Daleko Market'],
  Oyo: ['Bodija Market', 'Dugbe Market', 'Ọjà Ọba', 'Gbagi Market', 'Ogunpa Market', 'Oje Market'],
  Ogun: ['Kuto Market', 'Lafenwa Market', 'Itoku Market', 'Sabo Market'],
  Osun: ['Oja Oba Osogbo', 'Igbonna Market', 'Ayegbaju Market'],
  Kwara: ['Oja Oba Ilorin', 'Ipata Market', 'Mandate Market'],
  Edo: ['Oba Market', 'New Benin Market', 'Uselu Market'],
  Anambra: ['Onitsha Main Market', 'Ochanja Market', 'Relief Market'],
  Enugu: ['Ogbete Main Market', 'Abakpa Market', 'New Market'],
  Rivers: ['Mile 1 Market', 'Oil Mill Market', 'Creek Road Market'],
  FCT: ['Wuse Market', 'Garki Market', 'Nyanya Market'],
  Kano: ['Kurmi Market', 'Kantin Kwari Market', 'Sabon Gari Market'],
};
export const TRADES = ['Traders', 'Tailors', 'Hairdressers', 'Foodstuff Sellers', 'Fish Sellers', 'Fabric Dealers', 'Artisans', 'Okada Riders', 'Mechanics', 'Provision Sellers', 'Pepper Sellers', 'Shoemakers', 'Welders', 'Carpenters', 'Phone Repairers', 'Caterers'];
export const UNION_SUFFIXES = ['Union', 'Association', 'Cooperative Society', "Women's Group", 'Progressive Union', 'Multipurpose Cooperative'];
export const PROFESSIONS = ['Trader', 'Tailor', 'Fashion designer', 'Hairdresser', 'Barber', 'Caterer', 'Farmer', 'Mechanic', 'Vulcaniser', 'Okada rider', 'Keke driver', 'Welder', 'Carpenter', 'Electrician', 'Baker', 'Fish seller', 'Provision store owner', 'POS agent', 'Pepper seller', 'Shoemaker', 'Phone repairer', 'Teacher', 'Nurse', 'Foodstuff seller'];
export const MEMBER_NOTES = [
  'Prefers calls after 4pm, not before',
  'Known in the market as "Iya Alata"',
  'Guarantor: husband (Mr. Okoro)\nMeeting day: Thursday',
  'Very prompt with payments 👍',
  'Shop relocated to the new block, stall 14B',
  'Referred by union chairman 🙏🏾',
  'Speaks Yorùbá and Pidgin; prefers Yorùbá-speaking officer',
  'Twins in the family — "Ibeji" shop sign',
  'Former customer of LAPO; clean record',
  'Stall at Mile 12, line C, shop 3; ask for "Mama Tolu"',
];
export const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.6312.99 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 12; TECNO KI5k) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.119 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 11; Infinix X6511) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.6167.178 Mobile Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15',
  'Mozilla/5.0 (Linux; Android 13; itel A70) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36',
];
/** Where uploaded images and documents live (the production app stores them on Cloudinary). */
export const CLOUDINARY = 'https://res.cloudinary.com/millennium-potters/image/upload';
